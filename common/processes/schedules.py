"""Discrete β schedules and the conversions σ ↔ ᾱ ↔ log-SNR.

Conventions (VP): x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε. In σ-space, x_t / sqrt(ᾱ_t) = x0 + σ ε with
σ² = (1 − ᾱ)/ᾱ, so ᾱ = 1/(1 + σ²) and log-SNR λ = log(ᾱ/(1 − ᾱ)) = −2 log σ.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

BetaScheduleName = Literal["linear", "scaled_linear", "cosine"]


def sigma_to_alpha_bar(sigma: Tensor) -> Tensor:
    """ᾱ = 1 / (1 + σ²)."""
    return 1.0 / (1.0 + sigma**2)


def alpha_bar_to_sigma(alpha_bar: Tensor) -> Tensor:
    """σ = sqrt((1 − ᾱ) / ᾱ); ᾱ = 0 maps to +inf."""
    return ((1.0 - alpha_bar) / alpha_bar).sqrt()


def sigma_to_log_snr(sigma: Tensor) -> Tensor:
    """λ = −2 log σ (natural log; SNR = 1/σ²)."""
    return -2.0 * torch.log(sigma)


def log_snr_to_sigma(log_snr: Tensor) -> Tensor:
    """σ = exp(−λ / 2)."""
    return torch.exp(-0.5 * log_snr)


def beta_schedule(
    name: BetaScheduleName,
    num_timesteps: int = 1000,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    cosine_s: float = 0.008,
    max_beta: float = 0.999,
) -> Tensor:
    """β_1..β_T as float64 ``[T]``.

    - ``linear``: Ho et al. 2020, β linear in [beta_start, beta_end] (defaults 1e-4, 0.02).
    - ``scaled_linear``: Stable Diffusion, sqrt(β) linear (use beta_start 0.00085, beta_end 0.012).
    - ``cosine``: Nichol & Dhariwal 2021 eq. 17, ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2),
      β clipped at ``max_beta``.
    """
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps: must be >= 1, got {num_timesteps}")
    if name == "linear":
        return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    if name == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_timesteps, dtype=torch.float64) ** 2
    if name == "cosine":
        t = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        f = torch.cos((t + cosine_s) / (1 + cosine_s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
        return betas.clamp(max=max_beta)
    raise ValueError(f"beta schedule: unknown name {name!r} (choose linear, scaled_linear, cosine)")


def rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """Rescale β so that the terminal SNR is exactly zero (Lin et al. 2024, Algorithm 1).

    sqrt(ᾱ) is shifted and scaled so that its last value becomes 0 while its first is unchanged.
    The returned β_T is 1 (ᾱ_T = 0, σ_T = inf): such a schedule must be sampled with a v- or
    x0-model; :class:`~sciffusion.common.processes.forward.DiscreteProcess` caps σ_T for grids.
    """
    alphas_bar_sqrt = torch.cumprod(1 - betas.double(), 0).sqrt()
    first, last = alphas_bar_sqrt[0].clone(), alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt = (alphas_bar_sqrt - last) * first / (first - last)
    alphas_bar = alphas_bar_sqrt**2
    alphas = torch.cat([alphas_bar[:1], alphas_bar[1:] / alphas_bar[:-1]])
    return 1 - alphas
