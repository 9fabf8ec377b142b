"""Predictor–corrector sampling (Song et al. 2021, Algorithms 2-3): a reverse-diffusion predictor
followed by Langevin corrector steps at the new noise level."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.noise import randn_like
from sciffusion.common.samplers.base import SampleResult, StepCallback, prepare, report, reverse_diffusion_step


def _mean_norm(v: Tensor) -> Tensor:
    """Mean over the batch of the per-sample L2 norm (as in Song et al.'s reference code; a per-sample
    ratio is ill-conditioned in low dimension, where ‖∇log p‖ can be ~0 for some samples)."""
    return v.reshape(v.shape[0], -1).norm(dim=1).mean()


def langevin_correct(den, x: Tensor, sigma: float, snr: float, n_steps: int,
                     generator: Optional[torch.Generator]) -> Tensor:
    """``n_steps`` of Langevin MCMC at fixed σ with step ε = 2 (snr ‖z‖ / ‖∇log p‖)², norms averaged over
    the batch (Song et al. 2021, Alg. 4): x ← x + ε ∇log p + sqrt(2ε) z, ∇log p = (D − x)/σ²."""
    for _ in range(n_steps):
        score = (den(x, sigma) - x) / sigma**2
        z = randn_like(x, generator)
        eps = 2 * (snr * _mean_norm(z) / _mean_norm(score).clamp_min(1e-12)) ** 2
        x = x + eps * score + (2 * eps).sqrt() * z
    return x


def predictor_corrector(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                        generator: Optional[torch.Generator] = None, callback: Optional[StepCallback] = None,
                        snr: float = 0.16, corrector_steps: int = 1) -> SampleResult:
    """Reverse-diffusion predictor (Euler–Maruyama in σ², see
    :func:`~sciffusion.common.samplers.first_order.euler_maruyama`) then ``corrector_steps`` Langevin
    steps at σ_{i+1} > 0. NFE = steps + corrector_steps · (steps − 1)."""
    if snr <= 0:
        raise ValueError(f"snr: must be > 0, got {snr}")
    if corrector_steps < 0:
        raise ValueError(f"corrector_steps: must be >= 0, got {corrector_steps}")
    den, sig = prepare(denoise, sigmas, x)
    for i in range(len(sig) - 1):
        d = den(x, sig[i])
        x = reverse_diffusion_step(x, d, sig[i], sig[i + 1], generator)
        if sig[i + 1] > 0:
            x = langevin_correct(den, x, sig[i + 1], snr, corrector_steps, generator)
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)
