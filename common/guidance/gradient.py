"""Gradient guidance as denoiser wrappers: an energy / classifier log-probability on the denoised
estimate, a noise-conditional classifier on the noisy input (classifier guidance, Dhariwal & Nichol
2021), and DPS reconstruction guidance (Chung et al. 2023) for a differentiable measurement operator.

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
from typing import Callable, Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn, expand_sigma, per_sample
from sciffusion.common.guidance.cfg import inside_interval, sigma_interval_bounds


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


def classifier_guidance(denoise: DenoiseFn, log_prob: Callable[[Tensor, Tensor], Tensor], scale: float,
                        sigma_interval: Optional[tuple[float, float]] = None) -> DenoiseFn:
    """Classifier guidance (Dhariwal & Nichol 2021) with a noise-conditional classifier:

        D'(x, σ) = D(x, σ) + scale · σ² · ∇_x log p_σ(y | x)

    log_prob: differentiable ``(x [B, ...], σ [B]) -> [B]``, the log-probability of the wanted class of
    the *noisy* input at its noise level (a classifier trained on σ-noised data). By Bayes,
    ∇ log p_σ(x | y) = ∇ log p_σ(x) + ∇ log p_σ(y | x), and by Tweedie D = x + σ² ∇ log p_σ(x), so at
    scale 1 an exact unconditional D and an exact p_σ(y | x) give the exact class-conditional denoiser
    (tested on a Gaussian mixture); scale > 1 sharpens p(y | x)^scale. Unlike :func:`energy_guidance`, no
    gradient flows through D: one denoiser call plus one classifier backward per NFE. ``sigma_interval``
    (lo, hi), inclusive, limits the guidance to those σ (per sample), as for :func:`~.cfg.cfg`.
    """
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale: must be finite and >= 0, got {scale}")
    lo, hi = sigma_interval_bounds(sigma_interval)

    def guided(x: Tensor, sigma: Tensor) -> Tensor:
        d = denoise(x, sigma)
        sig = expand_sigma(sigma, x)
        inside = inside_interval(sigma, x, lo, hi)
        if scale == 0 or not bool(inside.any()):
            return d
        with torch.inference_mode(False), torch.enable_grad():  # also under Lightning's predict loop
            x_in = x.detach().clone().requires_grad_(True)
            lp = log_prob(x_in, sig.clone())
            if lp.shape != (x.shape[0],):
                raise ValueError(f"log_prob: must return one value per sample [B], got shape {tuple(lp.shape)}")
            (grad,) = torch.autograd.grad(lp.sum(), x_in)
        step = scale * per_sample(sig, x) ** 2 * grad.to(d.dtype)
        return torch.where(per_sample(inside, x), d + step, d)

    return guided


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
