"""Conditional log-likelihoods by the denoising ELBO, for comparing conditions on one input.

A model trained on several conditions (class labels, events, prompts) is also a classifier: Bayes gives
p(c | x) ∝ p(x | c) p(c), and each log p(x | c) is bounded by the diffusion ELBO (Kingma et al. 2021,
"Variational diffusion models", eq. 17; Li et al. 2023, "Your diffusion model is secretly a zero-shot
classifier"). In σ-space (x̂ = x0 + σ ε, D(x̂, σ) ≈ E[x0 | x̂]) the continuous-time bound reads

    log p(x0 | c) ≥ C(x0) − ∫_{σ_min}^{σ_max} E_ε ‖x0 − D_c(x0 + σ ε, σ)‖² / σ² d ln σ,

where C(x0) (the prior at σ_max and the reconstruction at σ_min) is the same for every condition when
σ_max is far above the data and σ_min far below it. So the integral alone, with one noise draw ε shared by
every condition (the differences keep little of its variance), gives per-condition log-likelihoods up to
one constant per input: their differences are log-likelihood ratios and their softmax the posterior under
a uniform prior. The integral is a trapezoid over the given log-spaced levels; each level uses ``draws``
noise draws. NFE per input = K conditions × L levels × draws.

For data N(μ_c, s² I) given c and the exact denoiser D_c(x, σ) = μ_c + s²/(s² + σ²) (x − μ_c), the
expected difference between two conditions is exactly (‖x0 − μ_b‖² − ‖x0 − μ_a‖²) / (2 s²), the log
likelihood ratio (∫_0^∞ σ/(s² + σ²)² dσ = 1/(2 s²)); the tests check it.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.noise import randn_like


def log_sigma_weights(sigmas: Tensor) -> Tensor:
    """Trapezoid weights [L] in u = ln σ for increasing levels ``sigmas`` [L] (one level: weight 1)."""
    if sigmas.dim() != 1 or len(sigmas) == 0 or (sigmas <= 0).any():
        raise ValueError("sigmas: need a non-empty 1-D tensor of noise levels > 0")
    if len(sigmas) == 1:
        return torch.ones_like(sigmas)
    if not (sigmas[1:] > sigmas[:-1]).all():
        raise ValueError("sigmas: noise levels must increase")
    du = sigmas.log().diff()
    weights = torch.zeros_like(sigmas)
    weights[:-1] += du / 2
    weights[1:] += du / 2
    return weights


@torch.no_grad()
def conditional_log_likelihoods(denoisers: Sequence[DenoiseFn], x: Tensor, sigmas: Tensor, *, draws: int = 1,
                                generator: Optional[torch.Generator] = None) -> Tensor:
    """ELBO log-likelihoods of ``x`` [B, ...] under each of K conditions, ``denoisers[k]`` being the denoiser
    conditioned on condition k; returns [B, K] in nats, each up to one constant per input shared by the K
    conditions (module docstring): compare them along K (differences, ``softmax(dim=1)``), never across
    inputs. ``sigmas`` [L]: increasing noise levels, log-spaced over the range where the conditions differ;
    ``draws``: noise draws per level (shared by the conditions)."""
    if len(denoisers) == 0:
        raise ValueError("denoisers: need at least one condition")
    if draws < 1:
        raise ValueError(f"draws: must be >= 1, got {draws}")
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"x: need shape [B, ...] with B >= 1, got {tuple(x.shape)}")
    weights = log_sigma_weights(sigmas)
    out = torch.zeros(len(x), len(denoisers), dtype=torch.float64, device=x.device)
    for sigma, weight in zip(sigmas.tolist(), weights.tolist()):
        level = torch.full((len(x),), sigma, dtype=x.dtype, device=x.device)
        for _ in range(draws):
            noisy = x + sigma * randn_like(x, generator)
            for k, denoise in enumerate(denoisers):
                error = (denoise(noisy, level) - x).double().pow(2).flatten(1).sum(1)
                out[:, k] -= weight / draws * error / sigma ** 2
    return out


__all__ = ["conditional_log_likelihoods", "log_sigma_weights"]
