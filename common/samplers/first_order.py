"""First-order samplers in σ-space: Euler (PF-ODE), DDIM(η) / ancestral DDPM, Euler–Maruyama (reverse
SDE). On x̂ = x0 + σ ε the probability-flow ODE is dx/dσ = (x − D(x, σ))/σ (Karras et al. 2022, eq. 4
with s = 1); Euler on it, DDIM(η=0) and first-order DPM-Solver coincide exactly.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.noise import randn_like
from sciffusion.common.samplers.base import (
    SampleResult, StepCallback, add_churn, ancestral_split, churn_sigma, prepare, report, reverse_diffusion_step,
)


def euler(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
          callback: Optional[StepCallback] = None, s_churn: float = 0.0, s_tmin: float = 0.0,
          s_tmax: float = float("inf"), s_noise: float = 1.0) -> SampleResult:
    """Euler on the PF-ODE (Karras et al. 2022, Alg. 2 without the 2nd-order correction), with
    optional EDM churn. NFE = steps."""
    den, sig = prepare(denoise, sigmas, x)
    n = len(sig) - 1
    for i in range(n):
        s_hat = churn_sigma(sig[i], n, s_churn, s_tmin, s_tmax)
        x = add_churn(x, sig[i], s_hat, s_noise, generator)
        d = den(x, s_hat)
        x = d if sig[i + 1] == 0 else x + (sig[i + 1] - s_hat) * (x - d) / s_hat
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)


def ddim(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
         callback: Optional[StepCallback] = None, eta: float = 0.0) -> SampleResult:
    """DDIM (Song, Meng & Ermon 2021, eq. 12) in σ-space: x' = D + σ_down ε̂ + σ_up z with
    ε̂ = (x − D)/σ and (σ_down, σ_up) from :func:`ancestral_split`. η = 0 is deterministic DDIM,
    η = 1 the ancestral DDPM sampler (Ho et al. 2020, Alg. 2). NFE = steps."""
    if eta < 0:
        raise ValueError(f"eta: must be >= 0, got {eta}")
    den, sig = prepare(denoise, sigmas, x)
    for i in range(len(sig) - 1):
        d = den(x, sig[i])
        down, up = ancestral_split(sig[i], sig[i + 1], eta)
        if sig[i + 1] == 0:
            x = d
        else:
            x = d + down * (x - d) / sig[i]
            if up > 0:
                x = x + up * randn_like(x, generator)
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)


def ddpm_ancestral(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                   generator: Optional[torch.Generator] = None,
                   callback: Optional[StepCallback] = None) -> SampleResult:
    """Ancestral DDPM sampling: each step draws from the Gaussian posterior q(x_{t−1} | x_t, x0 = D)
    (Ho et al. 2020, eqs. 6-7), i.e. DDIM with η = 1."""
    return ddim(denoise, sigmas, x, generator=generator, callback=callback, eta=1.0)


def euler_maruyama(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                   generator: Optional[torch.Generator] = None,
                   callback: Optional[StepCallback] = None) -> SampleResult:
    """Euler–Maruyama on the reverse-time SDE in the variance time τ = σ² (the VE SDE of Song et al.
    2021): dx = −∇log p dτ + dw̄, so x' = x + (σ² − σ'²) ∇log p(x) + sqrt(σ² − σ'²) z with
    ∇log p = (D − x)/σ² (the "reverse diffusion" predictor). The final step returns D. NFE = steps."""
    den, sig = prepare(denoise, sigmas, x)
    for i in range(len(sig) - 1):
        d = den(x, sig[i])
        x = reverse_diffusion_step(x, d, sig[i], sig[i + 1], generator)
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)
