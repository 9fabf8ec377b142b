"""Energy guidance on a product of manifolds: a score transform that every product sampler runs
(the pattern of :func:`~sciffusion.common.samplers.low_temperature.low_temperature`).

For a differentiable energy ``E(state) -> [B]`` and scale λ ≥ 0 the guided score of component k is

    s'_k(x, t) = s_k(x, t) − λ w_k(σ) g_k(x),      σ = σ_k(t),
    g_k(x)     = d/dv E(retract_k(x, v)) at v = 0,
    w_k(σ)     = σ_d,k² / (σ_d,k² + σ²),

one tangent gradient for every component kind: on ℝⁿ the plain gradient, on SO(3) the gradient in
the left (space-frame) rotation vector of ``exp([v]×) R``, on tori the angle gradient of wrap(θ + v),
on ragged parts one value per row. The target is the tilted data p_data(x0) exp(−λ E(x0)).

The approximation: the exact guided score is ∇ log E[exp(−λE(x0)) | x_t]. As σ → 0 it is −λ∇E(x),
so s' is exact in that limit (w → 1). At larger σ the energy of the noisy state says little about x0;
w_k is the Jacobian ∂x̂0/∂x = σ_d²/(σ_d² + σ²) of the Gaussian-data denoiser (data N(μ, σ_d² I)), i.e.
:mod:`~sciffusion.common.guidance.gradient`'s −λ ∇_x E(x̂0(x)) with E's gradient taken at x instead of
x̂0, so the tilt fades in as the noise falls below σ_d,k (σ_d,k = ∞: w ≡ 1, every noisy marginal
tilted). For Gaussian data and a quadratic energy this gives the exact tilted mean (the guided score
vanishes at it for every σ) but a narrower spread than the tilted distribution (see the tests).

``clip`` (optional): each row's guidance term −λ w g is shrunk to norm ≤ clip / σ, 1/σ being the
small-noise score size per coordinate, so a stiff energy (e.g. a steric clash) moves a sampler step
by at most ~clip noise scales instead of throwing the sample out (the sampler's step is Δ_k·s', Δ_k
∝ σ²).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import torch
from torch import Tensor

from sciffusion.common.manifolds.product import SO3, ProductProcess, ScoreFn, State, Tangents, values_of
from sciffusion.common.manifolds.ragged import Ragged

EnergyFn = Callable[[State], Tensor]
"""``energy(state) -> [B]``, differentiable in the parts' values (any units; λ has their inverse)."""


@dataclass(frozen=True)
class EnergyGuidance:
    """scale: λ ≥ 0 (inverse energy units; 0 = off). sigma_data: σ_d,k > 0 per component (data units /
    radians; ``math.inf`` = unweighted), every component of the process named. clip: optional bound on
    each row's guidance norm in units of 1/σ_k (module docstring), > 0."""

    scale: float
    sigma_data: Mapping[str, float]
    clip: Optional[float] = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"guidance scale: must be finite and >= 0, got {self.scale}")
        for k, v in self.sigma_data.items():
            if not v > 0:
                raise ValueError(f"guidance sigma_data[{k!r}]: must be > 0, got {v}")
        if self.clip is not None and not (math.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"guidance clip: must be finite and > 0, got {self.clip}")

    def weight(self, name: str, sigma: Tensor) -> Tensor:
        """w_k(σ) = σ_d² / (σ_d² + σ²), σ's shape (1 where σ_d = ∞)."""
        sd = self.sigma_data[name]
        if math.isinf(sd):
            return torch.ones_like(sigma)
        return sd**2 / (sd**2 + sigma**2)


def tangent_gradient(process: ProductProcess, energy: EnergyFn, state: State) -> tuple[Tensor, Tangents]:
    """(E(state) [B] detached, {k: d/dv E(process.retract(state, v)) at v = 0}, tangents of values'
    shapes: [B, ...] dense, [M, ...] ragged, [B, 3] on SO(3)), with autograd enabled locally."""
    with torch.enable_grad():
        zero = {k: torch.zeros(_tangent_shape(process, k, state), dtype=values_of(state[k]).dtype,
                               device=values_of(state[k]).device, requires_grad=True) for k in process.components}
        detached = {k: _detached(p) for k, p in state.items()}
        e = energy(process.retract(detached, zero))
        batch = process.batch_size(state)
        if e.shape != (batch,):
            raise ValueError(f"energy: must return one value per sample [{batch}], got shape {tuple(e.shape)}")
        names = list(zero)
        grads = torch.autograd.grad(e.sum(), [zero[k] for k in names], allow_unused=True)
    return e.detach(), {k: torch.zeros_like(zero[k]) if g is None else g for k, g in zip(names, grads)}


def energy_guidance(process: ProductProcess, score_fn: ScoreFn, energy: EnergyFn,
                    config: EnergyGuidance) -> ScoreFn:
    """``score_fn`` with −λ w_k(σ_k(t)) g_k added per component and row (module docstring); λ = 0
    returns ``score_fn`` itself (no energy call). One energy forward + backward per score call."""
    unknown = set(config.sigma_data) ^ set(process.components)
    if unknown:
        raise ValueError(f"guidance sigma_data: must name exactly the components {sorted(process.components)}, "
                         f"got {sorted(config.sigma_data)}")
    if config.scale == 0:
        return score_fn

    def guided(state: State, t: Tensor) -> Tangents:
        scores = dict(score_fn(state, t))
        _, grads = tangent_gradient(process, energy, state)
        sigmas = process.row_sigmas(state, t)
        for k, g in grads.items():
            sigma = sigmas[k].to(device=g.device, dtype=g.dtype)
            lam = (config.scale * config.weight(k, sigma)).reshape(sigma.shape + (1,) * (g.dim() - 1))
            term = -lam * g
            if config.clip is not None:
                bound = (config.clip / sigma).reshape(lam.shape)
                norm = term.reshape(term.shape[0], -1).norm(dim=1).reshape(lam.shape) if term.dim() > 1 else term.abs()
                term = term * torch.clamp(bound / norm.clamp_min(1e-30), max=1.0)
            scores[k] = scores[k] + term.to(scores[k].dtype)
        return scores

    return guided


def _tangent_shape(process: ProductProcess, name: str, state: State) -> tuple[int, ...]:
    x = values_of(state[name])
    return tuple(x.shape[:-2]) + (3,) if isinstance(process.components[name], SO3) else tuple(x.shape)


def _detached(part):
    return part.with_values(part.values.detach()) if isinstance(part, Ragged) else part.detach()


__all__ = ["EnergyFn", "EnergyGuidance", "energy_guidance", "tangent_gradient"]
