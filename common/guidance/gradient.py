"""Gradient guidance as denoiser wrappers: an energy / classifier log-probability, and DPS
reconstruction guidance (Chung et al. 2023) for a differentiable measurement operator.

Both differentiate through the denoiser: the energy is defined on clean data, so it is evaluated at
the denoised estimate x̂0 = D(x, σ) and its gradient is taken w.r.t. the noisy x (chain rule through D).
By Tweedie, D = x + σ² ∇log p_σ(x), so adding σ² ∇ log g(x) to D adds ∇ log g to the score: tilting
by g = exp(−λ E(x̂0(x))) gives D' = D − λ σ² ∇_x E(D(x, σ)). Evaluating E at the noisy x instead
would tilt every noisy marginal by exp(−λE) — at large σ the tilt then dominates the prior and
collapses samples — while the x̂0 form fades as ∂D/∂x → 0 at large σ. It is the usual
"E[g(x0)|x] ≈ g(E[x0|x])" approximation (exact as σ → 0), so the sampled distribution is close to,
not exactly, the tilted data distribution; see the tests for the measured gap.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn, expand_sigma, per_sample


def grad_through_denoiser(denoise: DenoiseFn, x: Tensor, sigma: Tensor,
                           objective: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """(D(x, σ) detached, ∇_x Σ_b objective(D(x, σ))_b) with autograd enabled locally."""
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        d = denoise(x_in, sigma)
        obj = objective(d)
        if obj.shape != (x.shape[0],):
            raise ValueError(f"energy: must return one value per sample [B], got shape {tuple(obj.shape)}")
        (grad,) = torch.autograd.grad(obj.sum(), x_in)
    return d.detach(), grad


def energy_guidance(denoise: DenoiseFn, energy: Callable[[Tensor], Tensor], scale: float) -> DenoiseFn:
    """D'(x, σ) = D(x, σ) − scale · σ² · ∇_x E(D(x, σ)).

    energy: differentiable ``E(x0 [B, ...]) -> [B]`` (for a classifier, E = −log p(y | x0));
    scale: λ ≥ 0, the tilt p(x0) exp(−λ E(x0)). Works with every sampler (one denoiser call plus
    one backward pass per NFE).
    """
    pair = energy_guided_pair(denoise, energy, scale)

    def guided(x: Tensor, sigma: Tensor) -> Tensor:
        return denoise(x, sigma) if scale == 0 else pair(x, sigma)[0]

    return guided


def energy_guided_pair(denoise: DenoiseFn, energy: Callable[[Tensor], Tensor], scale: float
                       ) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """``(x, σ) -> (D − scale · σ² · ∇_x E(D), D)`` from one pass: :func:`energy_guidance`'s output
    and the prior's, as twisted SMC needs both. Arguments as in :func:`energy_guidance`."""
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale: must be finite and >= 0, got {scale}")

    def pair(x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        d, grad = grad_through_denoiser(denoise, x, sigma, energy)
        return d - scale * per_sample(expand_sigma(sigma, x), x) ** 2 * grad, d

    return pair


def dps(denoise: DenoiseFn, operator: Callable[[Tensor], Tensor], y: Tensor, zeta: float) -> DenoiseFn:
    """Diffusion posterior sampling (Chung et al. 2023, Alg. 1) as a denoiser wrapper:

        D'(x, σ) = D(x, σ) − ζ ∇_x ‖y − A(D(x, σ))‖₂   (per sample)

    operator: differentiable ``A(x0 [B, ...]) -> [B, ...]`` matching ``y`` ([B, ...] or broadcastable);
    zeta: ζ ≥ 0 in data units. The paper's step ζ'/‖y − A(x̂0)‖ on ∇‖·‖² equals 2ζ' ∇‖·‖, so ζ = 2ζ'.
    Placed in D, the correction enters each sampler step with that step's weight (for Euler,
    (σ − σ')/σ of it), so ζ is comparable across samplers and grids.
    """
    if not (math.isfinite(zeta) and zeta >= 0):
        raise ValueError(f"zeta: must be finite and >= 0, got {zeta}")

    def residual_norm(x0: Tensor) -> Tensor:
        r = y - operator(x0)
        return r.reshape(r.shape[0], -1).norm(dim=1)

    def guided(x: Tensor, sigma: Tensor) -> Tensor:
        if zeta == 0:
            return denoise(x, sigma)
        d, grad = grad_through_denoiser(denoise, x, sigma, residual_norm)
        return d - zeta * grad

    return guided
