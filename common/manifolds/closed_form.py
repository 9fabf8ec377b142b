"""Product data with an exact score at every time: one heat-kernel family per component.

Component k of sample b is drawn from the heat kernel of spread s_k around a centre c_k,b:
N(c, s² I) on ℝⁿ, IGSO(3)(c, s) on SO(3), WN(c, s²) per angle on a torus (s = 0: the point c). The
forward process convolves with the kernel of σ_k(t), and these kernels compose (Gaussian, IGSO(3) and
wrapped normal alike), so the marginal at t is the same family with

    s_k(t)² = s_k² + σ_k(t)²,

and its score is the kernel score in closed form. This is the reference for product samplers and
losses (tests, benchmarks). Centres are per sample ``[B, ...]`` for dense parts, or a
:class:`~sciffusion.common.manifolds.ragged.Ragged` of per-row centres, whose layout the state then has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import torch
from torch import Tensor

from sciffusion.common.manifolds.igso3 import igso3_score, sample_igso3
from sciffusion.common.manifolds.product import SO3, Euclidean, Part, ProductProcess, State, Tangents, values_of
from sciffusion.common.manifolds.ragged import Ragged
from sciffusion.common.manifolds.torus import sample_wrapped_normal, wrapped_normal_score
from sciffusion.common.noise import randn


@dataclass(frozen=True)
class HeatKernelData:
    """Data = heat kernel of spread ``spreads[k]`` ≥ 0 (data units / radians) around ``centers[k]``
    per component of ``process`` (module docstring)."""

    process: ProductProcess
    centers: Mapping[str, Part]
    spreads: Mapping[str, float]

    def __post_init__(self) -> None:
        names = set(self.process.components)
        if set(self.centers) != names or set(self.spreads) != names:
            raise ValueError(f"centers/spreads: need one entry per component {sorted(names)}")
        for k, s in self.spreads.items():
            if s < 0:
                raise ValueError(f"spreads[{k!r}]: must be >= 0, got {s}")
        self.process.batch_size(self.centers)

    def spread(self, name: str, t: Tensor | float) -> Tensor:
        """s_k(t) = sqrt(s_k² + σ_k(t)²), float64 of t's shape."""
        return torch.sqrt(self.spreads[name] ** 2 + self.process.components[name].sigma(t) ** 2)

    def _row_spread(self, name: str, t: Tensor) -> Tensor:
        center = self.centers[name]
        s = self.spread(name, t)
        return center.rows(s.to(center.index.device)) if isinstance(center, Ragged) else s

    def score(self, state: Mapping[str, Part], t: Tensor) -> Tangents:
        """Exact ∇ log p_t at ``state`` for per-sample times ``t`` [B] (tangents, values' shapes)."""
        out = {}
        for k, comp in self.process.components.items():
            x, c = values_of(state[k]), values_of(self.centers[k]).to(values_of(state[k]))
            s = self._row_spread(k, t).to(x)
            if isinstance(comp, Euclidean):
                out[k] = -(x - c) / s.reshape(s.shape + (1,) * (x.dim() - 1)) ** 2
            elif isinstance(comp, SO3):
                out[k] = igso3_score(x, c.expand_as(x), s)
            else:
                out[k] = wrapped_normal_score(x, c, s.reshape(s.shape + (1,) * (x.dim() - 1)))
        return out

    def sample(self, t: float, generator: Optional[torch.Generator] = None) -> State:
        """Exact draws of the marginal at time ``t`` (spread s_k(t); t = 1: a sampler's exact start), float64."""
        t_vec = torch.full((self.process.batch_size(self.centers),), float(t), dtype=torch.float64)
        return self._draw({k: self._row_spread(k, t_vec) for k in self.process.components}, generator)

    def sample_data(self, generator: Optional[torch.Generator] = None) -> State:
        """Exact draws of the data itself (spread s_k, no diffusion; s_k = 0: the centres), float64."""
        rows = {k: values_of(c).shape[0] for k, c in self.centers.items()}
        return self._draw({k: torch.full((rows[k],), float(self.spreads[k]), dtype=torch.float64)
                           for k in self.process.components}, generator)

    def _draw(self, spreads: Mapping[str, Tensor], generator: Optional[torch.Generator]) -> State:
        out: State = {}
        for k, comp in self.process.components.items():
            c = values_of(self.centers[k]).double()
            s = spreads[k].to(c.device)
            if not bool((s > 0).any()):
                x = c.clone()
            elif isinstance(comp, Euclidean):
                z = randn(c.shape, generator=generator, dtype=c.dtype, device=c.device)
                x = c + s.reshape(s.shape + (1,) * (c.dim() - 1)) * z
            elif isinstance(comp, SO3):
                x = sample_igso3(c, s, generator)
            else:
                x = sample_wrapped_normal(c, s.reshape(s.shape + (1,) * (c.dim() - 1)), generator)
            center = self.centers[k]
            out[k] = center.with_values(x) if isinstance(center, Ragged) else x
        return out

__all__ = ["HeatKernelData"]
