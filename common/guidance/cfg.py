"""Classifier-free guidance (Ho & Salimans 2022) as a denoiser wrapper.

D_w(x, σ) = D_u(x, σ) + w (D_c(x, σ) − D_u(x, σ)) for σ inside ``sigma_interval`` (Kynkäänniemi et al.
2024 apply guidance only in a limited σ interval), D_c(x, σ) outside. w = 1 returns D_c exactly.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn, expand_sigma, per_sample


def sigma_interval_bounds(sigma_interval: Optional[tuple[float, float]]) -> tuple[float, float]:
    """(lo, hi) of a guidance σ interval (None: every σ), checked: 0 ≤ lo ≤ hi."""
    lo, hi = sigma_interval if sigma_interval is not None else (0.0, math.inf)
    if not 0 <= lo <= hi:
        raise ValueError(f"sigma_interval: need 0 <= lo <= hi, got ({lo}, {hi})")
    return lo, hi


def inside_interval(sigma: Tensor, x: Tensor, lo: float, hi: float) -> Tensor:
    """Bool mask, ``sigma`` [B] broadcast against ``x``, of the samples with lo ≤ σ ≤ hi."""
    sig = expand_sigma(sigma, x)
    return (sig >= lo) & (sig <= hi)


def cfg(denoise_cond: DenoiseFn, denoise_uncond: DenoiseFn, scale: float,
        sigma_interval: Optional[tuple[float, float]] = None) -> DenoiseFn:
    """Return ``(x [B, ...], sigma [B]) -> x0`` with classifier-free guidance of strength ``scale``.

    ``sigma_interval=(lo, hi)`` (data units, inclusive) limits guidance to lo ≤ σ ≤ hi; per sample,
    so a batch with mixed σ is handled. The unconditional model is only called when some sample is
    inside the interval and scale ≠ 1.
    """
    if not math.isfinite(scale):
        raise ValueError(f"scale: must be finite, got {scale}")
    lo, hi = sigma_interval_bounds(sigma_interval)

    def guided(x: Tensor, sigma: Tensor) -> Tensor:
        d_c = denoise_cond(x, sigma)
        if scale == 1.0:
            return d_c
        inside = inside_interval(sigma, x, lo, hi)
        if not bool(inside.any()):
            return d_c
        d_u = denoise_uncond(x, sigma)
        return torch.where(per_sample(inside, x), d_u + scale * (d_c - d_u), d_c)

    return guided
