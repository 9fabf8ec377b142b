"""A product of Euclidean, SO(3) and torus diffusions under one time t ∈ [0, 1] and one sampler loop.

Each named component k has its own geometric noise schedule σ_k(t) = σ_min^{1−t} σ_max^t and is a
variance-exploding diffusion on its manifold: Brownian motion with d(σ_k²)/dt = 2 σ_k² ln(σ_max/σ_min),
so the marginal at t is the data convolved with the heat kernel of "variance" σ_k(t)² (Gaussian on
ℝⁿ, IGSO(3) on SO(3), wrapped normal on the torus; Song et al. 2021, De Bortoli et al. 2022). The
state is a dict of tensors, e.g. ``{"r3": [B, 3] or [B, N, 3], "so3": [B, 3, 3], "torus": [B, m]}``;
the score model returns a dict of tangent vectors of the same names (``[B, ...]``, ``[B, 3]`` as a
left rotation vector, ``[B, m]``). A rigid-body-plus-angles pose diffusion is one instance.

Sampler step from t to t' < t, with Δ_k = σ_k(t)² − σ_k(t')² (the exact integral of g² over the step):

    reverse SDE (Euler–Maruyama):  v = Δ_k s_k + sqrt(Δ_k) z,   PF-ODE (Euler):  v = ½ Δ_k s_k,

and the state moves by the component's retraction: x + v on ℝⁿ, exp([v]×) R on SO(3) (left /
space frame, see :mod:`~sciffusion.common.manifolds.so3`), wrap(θ + v) on the torus.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Protocol, Union

import torch
from torch import Tensor

from sciffusion.common.grids import check_sigma_range
from sciffusion.common.manifolds import igso3, torus
from sciffusion.common.manifolds.so3 import exp_map
from sciffusion.common.noise import randn

State = dict[str, Tensor]
ScoreFn = Callable[[State, Tensor], State]
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
    return v.to(x.dtype).reshape(v.shape + (1,) * event_dims)


@dataclass(frozen=True)
class Euclidean(_Schedule):
    """ℝⁿ part, state [B, ...] (any event shape), tangent = same shape. Prior N(0, σ_max² I)."""

    def retract(self, x: Tensor, v: Tensor) -> Tensor:
        return x + v

    def tangent_noise(self, x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        return randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)

    def perturb(self, x0: Tensor, sigma: Tensor, generator: Optional[torch.Generator]) -> tuple[Tensor, Tensor]:
        """(x0 + σ z, its conditional score −z/σ); sigma [B]."""
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
    """SO(3) part, state [B, 3, 3], tangent [B, 3] (left rotation vector, radians). Prior
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
            raise ValueError(f"so3 shape: need (B, 3, 3), got {tuple(shape)}")
        v = igso3.sample_igso3_vec(torch.full((shape[0],), self.sigma_max, dtype=torch.float64), generator)
        return exp_map(v).to(dtype)

    def score_norm(self, sigma: Tensor) -> Tensor:
        return igso3.score_norm(sigma)


@dataclass(frozen=True)
class Torus(_Schedule):
    """Torus part, state [B, m] angles in (−π, π], tangent [B, m] radians. Prior WN(0, σ_max²)
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


@dataclass(frozen=True)
class ProductResult:
    """Sampler output: the final state (dict of tensors) and the number of score-model calls."""

    state: State
    nfe: int


@dataclass(frozen=True)
class ProductProcess:
    """Named components under one time t ∈ [0, 1]; e.g.
    ``ProductProcess({"r3": Euclidean(0.1, 20.0), "so3": SO3(0.03, 1.6), "torus": Torus(0.03, 3.1)})``."""

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

    def _check(self, state: Mapping[str, Tensor]) -> int:
        if set(state) != set(self.components):
            raise ValueError(f"state: keys {sorted(state)} do not match components {sorted(self.components)}")
        sizes = {v.shape[0] for v in state.values()}
        if len(sizes) != 1:
            raise ValueError(f"state: batch sizes differ across components: {sorted(sizes)}")
        return sizes.pop()

    def perturb(self, state0: Mapping[str, Tensor], t: Tensor,
                generator: Optional[torch.Generator] = None) -> tuple[State, State]:
        """Training pairs: (noisy state at times t [B], conditional score targets per component)."""
        self._check(state0)
        noisy, targets = {}, {}
        for k, c in self.components.items():
            noisy[k], targets[k] = c.perturb(state0[k], c.sigma(t), generator)
        return noisy, targets

    def prior(self, shapes: Mapping[str, tuple[int, ...]], dtype: torch.dtype = torch.float64,
              generator: Optional[torch.Generator] = None) -> State:
        """Samples at t = 1; ``shapes`` gives each component's full shape, batch first."""
        if set(shapes) != set(self.components):
            raise ValueError(f"shapes: keys {sorted(shapes)} do not match components {sorted(self.components)}")
        return {k: c.prior(tuple(shapes[k]), dtype, generator) for k, c in self.components.items()}

    def sample(self, score_fn: ScoreFn, state: Mapping[str, Tensor], steps: int, *, ode: bool = False,
               t_start: float = 1.0, generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[int, float, State], None]] = None) -> ProductResult:
        """Integrate from ``t_start`` to 0 in ``steps`` uniform t-steps: Euler–Maruyama on the reverse
        SDE (default) or Euler on the PF-ODE (``ode=True``). Returns samples of the t = 0 marginal
        (data ⊛ heat kernel of σ_min); there is no final denoising step on a manifold.
        ``callback(i, t_next, state)`` after each step."""
        if steps < 1:
            raise ValueError(f"steps: must be >= 1, got {steps}")
        if not 0 < t_start <= 1:
            raise ValueError(f"t_start: must be in (0, 1], got {t_start}")
        batch = self._check(state)
        x = dict(state)
        ts = [t_start * (1 - i / steps) for i in range(steps + 1)]
        for i in range(steps):
            any_x = next(iter(x.values()))
            t_vec = torch.full((batch,), ts[i], dtype=any_x.dtype if any_x.is_floating_point() else torch.float64,
                               device=any_x.device)
            scores = score_fn(x, t_vec)
            for k, c in self.components.items():
                dvar = float(c.sigma(ts[i]) ** 2 - c.sigma(ts[i + 1]) ** 2)
                v = (0.5 * dvar) * scores[k] if ode else dvar * scores[k] + math.sqrt(dvar) * c.tangent_noise(x[k], generator)
                x[k] = c.retract(x[k], v)
            if callback is not None:
                callback(i, ts[i + 1], x)
        return ProductResult(x, steps)
