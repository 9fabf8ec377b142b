"""A product of Euclidean, SO(3) and torus diffusions under one time t ∈ [0, 1].

Each named component k has its own geometric noise schedule σ_k(t) = σ_min^{1−t} σ_max^t and is a
variance-exploding diffusion on its manifold: Brownian motion with d(σ_k²)/dt = 2 σ_k² ln(σ_max/σ_min),
so the marginal at t is the data convolved with the heat kernel of "variance" σ_k(t)² (Gaussian on
ℝⁿ, IGSO(3) on SO(3), wrapped normal on the torus; Song et al. 2021, De Bortoli et al. 2022).

State: a dict, one entry per component, each either a dense tensor with the batch first or a
:class:`~sciffusion.common.manifolds.ragged.Ragged` part (rows of varying number per sample, flat,
with a sample index), e.g.::

    {"r3": [B, 3] (or [B, N, 3]), "so3": [B, 3, 3], "torus": Ragged(values [M], index [M], B)}

Tangents (scores, noise, updates): a dict of plain tensors of the same names, each of the shape of its
component's values: ``[B, 3]``, ``[B, 3]`` (a left / space-frame rotation vector, see
:mod:`~sciffusion.common.manifolds.so3`), ``[M]``. Components work row by row: every method takes σ
per leading row ([B] for a dense part, σ[index] ``[M]`` for a ragged one). A rigid-body-plus-angles
pose diffusion is one instance. The samplers are functions in :mod:`sciffusion.common.samplers.product`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor

from sciffusion.common.grids import check_sigma_range
from sciffusion.common.manifolds import igso3, torus
from sciffusion.common.manifolds.ragged import Ragged, RaggedShape
from sciffusion.common.manifolds.so3 import exp_map
from sciffusion.common.noise import randn

Part = Union[Tensor, Ragged]
State = dict[str, Part]
"""Component name → dense tensor ``[B, ...]`` or :class:`Ragged` part (module docstring)."""
Tangents = dict[str, Tensor]
"""Component name → tangent vectors, the shape of the component's values (``[B, ...]`` or ``[M, ...]``)."""
ScoreFn = Callable[[State, Tensor], Tangents]
"""``score_fn(state, t [B]) -> {name: tangent score}``."""


@dataclass(frozen=True)
class _Schedule:
    sigma_min: float
    sigma_max: float

    def __post_init__(self) -> None:
        check_sigma_range(self.sigma_min, self.sigma_max)

    def sigma(self, t: Tensor | float) -> Tensor:
        """σ(t) = σ_min^{1−t} σ_max^t, t ∈ [0, 1] (float64 tensor of t's shape)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        return self.sigma_min ** (1 - t) * self.sigma_max**t


def _per_sample(v: Tensor, x: Tensor, event_dims: int) -> Tensor:
    return v.to(device=x.device, dtype=x.dtype).reshape(v.shape + (1,) * event_dims)


@dataclass(frozen=True)
class Euclidean(_Schedule):
    """ℝⁿ part, rows [R, ...] (any event shape), tangent = same shape. Prior N(0, σ_max² I)."""

    def retract(self, x: Tensor, v: Tensor) -> Tensor:
        return x + v

    def tangent_noise(self, x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        return randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)

    def perturb(self, x0: Tensor, sigma: Tensor, generator: Optional[torch.Generator]) -> tuple[Tensor, Tensor]:
        """(x0 + σ z, its conditional score −z/σ); sigma [R], one per row of x0."""
        s = _per_sample(sigma, x0, x0.dim() - 1)
        z = randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        return x0 + s * z, -z / s

    def prior(self, shape: tuple[int, ...], dtype: torch.dtype, generator: Optional[torch.Generator]) -> Tensor:
        return self.sigma_max * torch.randn(shape, dtype=dtype, generator=generator)

    def score_norm(self, sigma: Tensor) -> Tensor:
        """Per-coordinate sqrt(E|score|²) = 1/σ."""
        return 1 / sigma


@dataclass(frozen=True)
class SO3(_Schedule):
    """SO(3) part, rows [R, 3, 3], tangent [R, 3] (left rotation vector, radians). Prior
    IGSO(3)(I, σ_max) (≈ Haar-uniform once σ_max ≳ 2)."""

    def retract(self, x: Tensor, v: Tensor) -> Tensor:
        return exp_map(v) @ x

    def tangent_noise(self, x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        return randn(x.shape[:-1], generator=generator, dtype=x.dtype, device=x.device)

    def perturb(self, x0: Tensor, sigma: Tensor, generator: Optional[torch.Generator]) -> tuple[Tensor, Tensor]:
        """(exp([v]×) R0 with v ~ IGSO(3)(σ), the conditional score of IGSO(3)(R0, σ) at it)."""
        v = igso3.sample_igso3_vec(sigma.double().cpu(), generator).to(x0)
        return exp_map(v) @ x0, igso3.igso3_score_vec(v, sigma.to(x0))

    def prior(self, shape: tuple[int, ...], dtype: torch.dtype, generator: Optional[torch.Generator]) -> Tensor:
        if tuple(shape[1:]) != (3, 3):
            raise ValueError(f"so3 shape: need (rows, 3, 3), got {tuple(shape)}")
        v = igso3.sample_igso3_vec(torch.full((shape[0],), self.sigma_max, dtype=torch.float64), generator)
        return exp_map(v).to(dtype)

    def score_norm(self, sigma: Tensor) -> Tensor:
        return igso3.score_norm(sigma)


@dataclass(frozen=True)
class Torus(_Schedule):
    """Torus part, rows [R, ...] of angles in (−π, π] (e.g. [B, m] dense or [M] ragged), tangent
    the same shape, radians. Prior WN(0, σ_max²)
    (≈ uniform once σ_max ≳ 3)."""

    def retract(self, x: Tensor, v: Tensor) -> Tensor:
        return torus.wrap(x + v)

    def tangent_noise(self, x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        return randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)

    def perturb(self, x0: Tensor, sigma: Tensor, generator: Optional[torch.Generator]) -> tuple[Tensor, Tensor]:
        """(wrap(θ0 + σ z), the wrapped-normal conditional score at it)."""
        s = _per_sample(sigma, x0, x0.dim() - 1)
        xt = torus.sample_wrapped_normal(x0, s, generator)
        return xt, torus.wrapped_normal_score(xt, x0, s)

    def prior(self, shape: tuple[int, ...], dtype: torch.dtype, generator: Optional[torch.Generator]) -> Tensor:
        return torus.wrap(self.sigma_max * torch.randn(shape, dtype=dtype, generator=generator))

    def score_norm(self, sigma: Tensor) -> Tensor:
        return torus.score_norm(sigma)


Component = Union[Euclidean, SO3, Torus]
COMPONENT_KINDS: dict[str, type] = {"euclidean": Euclidean, "so3": SO3, "torus": Torus}
"""Names of the component types in :meth:`ProductProcess.to_dict`."""


def values_of(part: Part) -> Tensor:
    """The rows of a part: the dense tensor itself or a ragged part's ``values``."""
    return part.values if isinstance(part, Ragged) else part


def _with_values(part: Part, values: Tensor) -> Part:
    return part.with_values(values) if isinstance(part, Ragged) else values


def concat_states(states: Sequence[Mapping[str, Part]]) -> State:
    """One batch from several states with the same keys (e.g. single samples, B = 1 each): dense parts
    concatenated along the batch axis, ragged parts by :meth:`Ragged.concat`."""
    if not states:
        raise ValueError("states: need at least one")
    keys = set(states[0])
    if any(set(s) != keys for s in states):
        raise ValueError("states: all must have the same component names")
    return {k: Ragged.concat([s[k] for s in states]) if isinstance(states[0][k], Ragged)
            else torch.cat([s[k] for s in states]) for k in states[0]}


@dataclass(frozen=True)
class ProductResult:
    """Sampler output: the final state and the number of score-model calls."""

    state: State
    nfe: int


@dataclass(frozen=True)
class ProductProcess:
    """Named components under one time t ∈ [0, 1]; e.g.
    ``ProductProcess({"r3": Euclidean(0.1, 20.0), "so3": SO3(0.03, 1.6), "torus": Torus(0.03, 3.1)})``.
    Any component may be dense or ragged in a given state (module docstring)."""

    components: Mapping[str, Component] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("components: need at least one named component")
        for name, comp in self.components.items():
            if not isinstance(comp, (Euclidean, SO3, Torus)):
                raise ValueError(f"components[{name!r}]: must be Euclidean, SO3 or Torus, got {type(comp).__name__}")

    def sigmas(self, t: Tensor | float) -> dict[str, Tensor]:
        """σ_k(t) per component (float64, t's shape)."""
        return {k: c.sigma(t) for k, c in self.components.items()}

    def variance_drop(self, t: float, t_next: float) -> dict[str, float]:
        """Δ_k = σ_k(t)² − σ_k(t')², the exact integral of g_k² from t' to t (a sampler step's size)."""
        return {k: float(c.sigma(t) ** 2 - c.sigma(t_next) ** 2) for k, c in self.components.items()}

    def batch_size(self, state: Mapping[str, Part]) -> int:
        """Check the state (keys, part types, one batch size B across parts) and return B."""
        if set(state) != set(self.components):
            raise ValueError(f"state: keys {sorted(state)} do not match components {sorted(self.components)}")
        sizes = set()
        for k, part in state.items():
            if isinstance(part, Ragged):
                sizes.add(part.num_samples)
            elif isinstance(part, Tensor) and part.dim() >= 1:
                sizes.add(part.shape[0])
            else:
                raise ValueError(f"state[{k!r}]: need a tensor [B, ...] or a Ragged part, got {type(part).__name__}")
        if len(sizes) != 1:
            raise ValueError(f"state: batch sizes differ across components: {sorted(sizes)}")
        return sizes.pop()

    def check_tangents(self, state: Mapping[str, Part], tangents: Mapping[str, Tensor]) -> Tangents:
        """Raise unless ``tangents`` has one tensor per component, shaped like its values."""
        if set(tangents) != set(self.components):
            raise ValueError(f"scores: keys {sorted(tangents)} do not match components {sorted(self.components)}")
        for k, v in tangents.items():
            x = values_of(state[k])
            want = x.shape[:-2] + (3,) if isinstance(self.components[k], SO3) else x.shape
            if not isinstance(v, Tensor) or v.shape != want:
                got = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
                raise ValueError(f"scores[{k!r}]: need shape {tuple(want)}, got {got}")
        return dict(tangents)

    def row_sigmas(self, state: Mapping[str, Part], t: Tensor) -> dict[str, Tensor]:
        """σ_k(t) per row of each part, float64: ``[B]`` for dense parts, ``σ[index]`` ``[M]`` for ragged."""
        out = {}
        for k, c in self.components.items():
            part, sigma = state[k], c.sigma(t)
            out[k] = part.rows(sigma.to(part.index.device)) if isinstance(part, Ragged) else sigma
        return out

    def perturb(self, state0: Mapping[str, Part], t: Tensor,
                generator: Optional[torch.Generator] = None) -> tuple[State, Tangents]:
        """Training pairs: the noisy state at per-sample times ``t`` [B] and the conditional score
        targets ∇ log p_t(x_t | x_0) per component (tangents, values' shapes)."""
        batch = self.batch_size(state0)
        if t.shape != (batch,):
            raise ValueError(f"t: need shape ({batch},), got {tuple(t.shape)}")
        noisy, targets = {}, {}
        for k, sigma in self.row_sigmas(state0, t).items():
            x, target = self.components[k].perturb(values_of(state0[k]), sigma, generator)
            noisy[k], targets[k] = _with_values(state0[k], x), target
        return noisy, targets

    def prior(self, shapes: Mapping[str, tuple[int, ...] | RaggedShape], dtype: torch.dtype = torch.float64,
              generator: Optional[torch.Generator] = None, device: torch.device | str | None = None) -> State:
        """Samples at t = 1. ``shapes[k]``: a dense part's full shape (batch first) or a
        :class:`RaggedShape` (rows per sample, event shape of a row) for a ragged part."""
        if set(shapes) != set(self.components):
            raise ValueError(f"shapes: keys {sorted(shapes)} do not match components {sorted(self.components)}")
        out: State = {}
        for k, c in self.components.items():
            shape = shapes[k]
            if isinstance(shape, RaggedShape):
                values = c.prior((shape.num_rows, *shape.event_shape), dtype, generator).to(device)
                out[k] = Ragged(values, shape.index(values.device), shape.num_samples)
            else:
                out[k] = c.prior(tuple(shape), dtype, generator).to(device)
        self.batch_size(out)
        return out

    def retract(self, state: Mapping[str, Part], tangents: Mapping[str, Tensor]) -> State:
        """Move every part along its tangent: x + v, exp([v]×) R, wrap(θ + v); layouts kept."""
        return {k: _with_values(state[k], c.retract(values_of(state[k]), tangents[k]))
                for k, c in self.components.items()}

    def tangent_noise(self, state: Mapping[str, Part], generator: Optional[torch.Generator] = None) -> Tangents:
        """Standard normal tangent vectors, one per coordinate of every part (drawn in component order)."""
        return {k: c.tangent_noise(values_of(state[k]), generator) for k, c in self.components.items()}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: {"kind": "euclidean"|"so3"|"torus", "sigma_min": …, "sigma_max": …}}`` (JSON-ready)."""
        kinds = {cls: kind for kind, cls in COMPONENT_KINDS.items()}
        return {k: {"kind": kinds[type(c)], "sigma_min": c.sigma_min, "sigma_max": c.sigma_max}
                for k, c in self.components.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, Any]]) -> "ProductProcess":
        """Inverse of :meth:`to_dict`."""
        comps = {}
        for name, spec in d.items():
            spec = dict(spec)
            kind = spec.pop("kind", None)
            if kind not in COMPONENT_KINDS:
                raise ValueError(f"components[{name!r}]: kind must be one of {', '.join(COMPONENT_KINDS)}, got {kind!r}")
            comps[name] = COMPONENT_KINDS[kind](**spec)
        return cls(comps)


__all__ = ["COMPONENT_KINDS", "Component", "Euclidean", "Part", "concat_states", "ProductProcess", "ProductResult", "SO3", "ScoreFn",
           "State", "Tangents", "Torus", "values_of"]
