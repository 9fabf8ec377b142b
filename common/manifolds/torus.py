"""The flat torus Tᵐ = (−π, π]ᵐ with the wrapped normal distribution, one angle per coordinate.

Wrapped normal WN(μ, σ²) on the circle (angles in radians)::

    p(θ) = Σ_{k∈ℤ} N(θ − μ + 2πk; 0, σ²)                                      (images)
         = (1/2π) [1 + 2 Σ_{n≥1} exp(−n²σ²/2) cos(n(θ − μ))]                  (Fourier)

The images form is used for σ ≤ ``FOURIER_SWITCH_SIGMA`` (few images needed), the Fourier form above
(few harmonics needed); both are exact up to truncation and the tests check that they agree. It is
the heat kernel on the circle: WN(σ₁) ∗ WN(σ₂) = WN(sqrt(σ₁² + σ₂²)). The score is the derivative
d/dθ log p, a tangent vector in ℝᵐ; updates are θ ← wrap(θ + v).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.manifolds.piecewise import switch_on_sigma
from sciffusion.common.noise import randn

FOURIER_SWITCH_SIGMA = 1.5
IMAGE_TERMS = 5
"""Images k = −5..5: for σ ≤ 1.5 the first dropped term is below exp(−(9π)²/(2·1.5²)) ≈ e⁻¹⁷⁷."""
FOURIER_TERMS = 12
"""Harmonics n = 1..12: for σ > 1.5 the first dropped term is below exp(−13²·1.5²/2) ≈ e⁻¹⁹⁰."""


def wrap(theta: Tensor) -> Tensor:
    """Angles to (−π, π] (radians), any shape: π − ((π − θ) mod 2π)."""
    return math.pi - torch.remainder(math.pi - theta, 2 * math.pi)


def _check_sigma(sigma: Tensor) -> None:
    if (sigma <= 0).any():
        raise ValueError("sigma: wrapped normal needs sigma > 0")


def log_density_images(d: Tensor, sigma: Tensor, images: int = IMAGE_TERMS) -> tuple[Tensor, Tensor]:
    """(log p, d log p/dθ) at offsets d = wrap(θ − μ) ∈ (−π, π] from the images form (broadcast)."""
    k = torch.arange(-images, images + 1, dtype=d.dtype, device=d.device)
    u, s = d[..., None] + 2 * math.pi * k, sigma[..., None]
    e = torch.exp(-(u**2 - d[..., None] ** 2) / (2 * s**2))  # relative to the k = 0 term
    z = e.sum(-1)
    log_p = -d**2 / (2 * sigma**2) + torch.log(z) - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return log_p, -(u * e).sum(-1) / (sigma**2 * z)


def log_density_fourier(d: Tensor, sigma: Tensor, terms: int = FOURIER_TERMS) -> tuple[Tensor, Tensor]:
    """(log p, d log p/dθ) at offsets d from the Fourier form with ``terms`` harmonics (broadcast)."""
    n = torch.arange(1, terms + 1, dtype=d.dtype, device=d.device)
    a = torch.exp(-(n**2) * sigma[..., None] ** 2 / 2)
    p = 1 + 2 * (a * torch.cos(n * d[..., None])).sum(-1)
    dp = -2 * (a * n * torch.sin(n * d[..., None])).sum(-1)
    return torch.log(p) - math.log(2 * math.pi), dp / p


def _log_p_and_score(theta: Tensor, mean: Tensor | float, sigma: Tensor | float) -> tuple[Tensor, Tensor]:
    theta = torch.as_tensor(theta)
    dtype = theta.dtype if theta.is_floating_point() else torch.float64
    d = wrap(theta.to(torch.float64) - torch.as_tensor(mean, dtype=torch.float64, device=theta.device))
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=theta.device)
    _check_sigma(sigma)
    d, sigma = torch.broadcast_tensors(d, sigma)
    lp, sc = switch_on_sigma(log_density_images, log_density_fourier, d, sigma, FOURIER_SWITCH_SIGMA)
    return lp.to(dtype), sc.to(dtype)


def wrapped_normal_log_density(theta: Tensor, mean: Tensor | float, sigma: Tensor | float) -> Tensor:
    """Elementwise log WN(θ; μ, σ²) w.r.t. dθ on (−π, π] (radians; θ, μ, σ broadcast). Sum over the
    last axis for the log density on Tᵐ."""
    return _log_p_and_score(theta, mean, sigma)[0]


def wrapped_normal_score(theta: Tensor, mean: Tensor | float, sigma: Tensor | float) -> Tensor:
    """Elementwise d/dθ log WN(θ; μ, σ²) (radians⁻¹), the tangent score on Tᵐ; shape of the
    broadcast of θ, μ, σ, θ's dtype."""
    return _log_p_and_score(theta, mean, sigma)[1]


def sample_wrapped_normal(mean: Tensor, sigma: Tensor | float,
                          generator: Optional[torch.Generator] = None) -> Tensor:
    """θ = wrap(μ + σ z), z ~ N(0, I): exact samples of WN(μ, σ²), shape and dtype of ``mean``;
    sigma: scalar or broadcastable to mean (e.g. [B, 1] per sample)."""
    sigma = torch.as_tensor(sigma, dtype=mean.dtype, device=mean.device)
    _check_sigma(sigma)
    z = randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return wrap(mean + sigma * z)


_NORM_SIGMAS = (0.05, 4.0, 513)  # log-spaced table for score_norm


def score_norm_quadrature(sigma: Tensor | float, points: int = 2048) -> Tensor:
    """sqrt(E[(d log p/dθ)²]) of WN(0, σ²) by the midpoint rule on ``points`` angles (float64; memory
    grows as σ.numel() × points, so :func:`score_norm` tabulates it)."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    _check_sigma(sigma)
    theta = -math.pi + (torch.arange(points, dtype=torch.float64) + 0.5) * (2 * math.pi / points)
    lp, sc = _log_p_and_score(theta, 0.0, sigma.reshape(-1, 1))
    w = lp.exp()
    return torch.sqrt((sc**2 * w).sum(-1) / w.sum(-1)).reshape(sigma.shape)


@lru_cache(maxsize=1)
def _score_norm_table() -> tuple[Tensor, Tensor]:
    lo, hi, n = _NORM_SIGMAS
    log_s = torch.linspace(math.log(lo), math.log(hi), n, dtype=torch.float64)
    sigma = log_s.exp()
    return log_s, score_norm_quadrature(sigma).log() + sigma**2 / 2  # smooth in log σ: the σ > 4 trend removed


def score_norm(sigma: Tensor | float) -> Tensor:
    """sqrt(E[(d log p/dθ)²]) of WN(0, σ²) per coordinate (radians⁻¹), for loss weighting. Below
    σ = 0.05 exactly 1/σ (to e^(−π²/2σ²)); above σ = 4 the one-harmonic limit sqrt(2) e^(−σ²/2)
    (relative error < e^(−16)); in between :func:`score_norm_quadrature`, tabulated on first use at 513
    log-spaced σ and interpolated linearly in log σ as log norm + σ²/2 (relative error < 1e-5)."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    _check_sigma(sigma)
    log_s, log_n = _score_norm_table()
    lo, hi, _ = _NORM_SIGMAS
    x = sigma.log().clamp(float(log_s[0]), float(log_s[-1]))
    idx = torch.searchsorted(log_s, x.contiguous().reshape(-1)).clamp(1, len(log_s) - 1).reshape(x.shape)
    w = (x - log_s[idx - 1]) / (log_s[idx] - log_s[idx - 1])
    table = (log_n[idx - 1] + w * (log_n[idx] - log_n[idx - 1]) - sigma**2 / 2).exp()
    wide = math.sqrt(2) * torch.exp(-(sigma**2) / 2)
    return torch.where(sigma < lo, 1 / sigma, torch.where(sigma > hi, wide, table))
