"""Conditioning by a mask: replacement in the denoiser, and RePaint resampling around any sampler.

``inpaint_replace`` is a denoiser wrapper, ``repaint`` a sampler wrapper; compose them:
``repaint(euler_maruyama, 5, 10)(inpaint_replace(D, known, mask), sigmas, x)``.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn, expand_sigma, per_sample
from sciffusion.common.grids import check_grid
from sciffusion.common.noise import randn_like
from sciffusion.common.samplers.base import SampleResult, StepCallback, StepInfo

SamplerFn = Callable[..., SampleResult]


def inpaint_replace(denoise: DenoiseFn, known: Tensor, mask: Tensor) -> DenoiseFn:
    """D'(x, σ) = mask · known + (1 − mask) · D(x, σ).

    known: [B, ...] or broadcastable (values where mask = 1); mask: broadcastable to x, 1 = known,
    0 = to generate (floats in [0, 1] blend). Every sampler whose last step returns the denoised
    estimate keeps the known part exactly. With an ODE sampler the known coordinates of x follow
    known + σ z (one z per path), so the unknown part sees a consistent noisy observation, but its
    update uses E[x0 | noisy x], not E[x0 | x, x0_known]: approximate, most at high σ (see ``repaint``).
    """
    if ((mask < 0) | (mask > 1)).any():
        raise ValueError("mask: values must lie in [0, 1]")

    def replaced(x: Tensor, sigma: Tensor) -> Tensor:
        m = mask.to(x)
        return m * known.to(x) + (1 - m) * denoise(x, sigma)

    return replaced


def shifted_denoiser(denoise: DenoiseFn, sigma_end: float) -> DenoiseFn:
    """Exact denoiser of the noisy data y0 = x0 + σ_end ε₁ at noise σ' = sqrt(σ² − σ_end²):

        D_end(x, σ') = D(x, σ) + (σ_end² / σ²) (x − D(x, σ)),   σ = sqrt(σ'² + σ_end²),

    since the total noise σε splits into independent σ_end ε₁ + σ' ε₂ and E[σ_end ε₁ | x] =
    (σ_end²/σ²) E[σ ε | x]. Lets a sampler whose grid must end at 0 stop at σ_end > 0.
    """
    def shifted(x: Tensor, sigma_prime: Tensor) -> Tensor:
        sp = expand_sigma(sigma_prime, x)
        sigma = torch.sqrt(sp**2 + sigma_end**2)
        d = denoise(x, sigma)
        return d + per_sample(sigma_end**2 / sigma**2, x) * (x - d)

    return shifted


def repaint(sampler: SamplerFn, jump_length: int, jump_n_sample: int) -> SamplerFn:
    """RePaint resampling (Lugmayr et al. 2022, Alg. 1 with jumps) around any sampler function.

    The grid is cut into chunks of ``jump_length`` steps. Each chunk σ_i → σ_{i+j} is run
    ``jump_n_sample`` times: after each run but the last, the state is re-noised forward with fresh
    noise, x ← x + sqrt(σ_i² − σ_{i+j}²) z, and the chunk is run again. A chunk ending at σ_{i+j} > 0
    is run as the grid sqrt(σ_k² − σ_{i+j}²) (ending in exactly 0) with :func:`shifted_denoiser`, so
    the wrapped sampler needs no change. NFE = jump_n_sample × the sampler's NFE over the grid.
    Returns a function with the sampler signature ``(denoise, sigmas, x, *, generator, callback, **opts)``.
    """
    if jump_length < 1:
        raise ValueError(f"jump_length: must be >= 1, got {jump_length}")
    if jump_n_sample < 1:
        raise ValueError(f"jump_n_sample: must be >= 1, got {jump_n_sample}")

    def resampled(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
                  callback: Optional[StepCallback] = None, **options) -> SampleResult:
        check_grid(sigmas)
        sig = sigmas.double()
        n, nfe = len(sig) - 1, 0
        for start in range(0, n, jump_length):
            stop = min(start + jump_length, n)
            s_end = float(sig[stop])
            sub = torch.sqrt((sig[start:stop + 1] ** 2 - s_end**2).clamp_min(0)).to(sigmas.dtype)
            sub[-1] = 0
            den = shifted_denoiser(denoise, s_end) if s_end > 0 else denoise
            for r in range(jump_n_sample):
                cb = None
                if callback is not None and r == jump_n_sample - 1:
                    def cb(info: StepInfo, start=start) -> None:
                        k = start + info.i
                        callback(StepInfo(k, float(sig[k]), float(sig[k + 1]), info.x, info.denoised))
                out = sampler(den, sub, x, generator=generator, callback=cb, **options)
                x, nfe = out.x, nfe + out.nfe
                if r < jump_n_sample - 1:
                    x = x + math.sqrt(float(sig[start]) ** 2 - s_end**2) * randn_like(x, generator)
        return SampleResult(x, nfe)

    return resampled
