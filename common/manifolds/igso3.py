"""The isotropic Gaussian on SO(3), IGSO(3)(μ, σ): the heat kernel of Brownian motion on SO(3) run
for "variance" σ² (each rotation-vector coordinate has variance σ² when σ is small).

Density w.r.t. the Haar measure, as a function of the angle ω of R μᵀ (Nikolayev & Savyolova 1997;
Leach et al. 2022; DiffDock ``utils/so3.py``, Corso et al. 2023)::

    f(ω; σ) = Σ_{l≥0} (2l+1) exp(−l(l+1) σ²/2) sin((l+½)ω) / sin(ω/2)          (series)

and the angle ω itself has density p(ω) = f(ω; σ) (1 − cos ω)/π on [0, π]. The series needs
~sqrt(80)/σ terms, so for σ ≤ ``SERIES_SWITCH_SIGMA`` we use the exact method-of-images form
(Poisson summation of the series; the heat kernel on S³ folded onto SO(3))::

    f(ω; σ) = sqrt(2π) σ⁻³ exp(σ²/8) / sin(ω/2) · Σ_{k∈ℤ} (−1)^k (ω + 2πk) exp(−(ω + 2πk)²/(2σ²))  (images)

whose k = 0 term is the small-σ closed form (ω ≈ |N(0, σ² I₃)|). Both are exact up to truncation;
the tests check that they agree where both converge. Density and score are evaluated directly
(differentiable, float64); only sampling (inverse CDF on an ω grid) and :func:`score_norm` use
tables, computed on first use and kept in memory (nothing at import, nothing on disk).

The heat kernel composes: IGSO(3)(σ₁) ∗ IGSO(3)(σ₂) = IGSO(3)(sqrt(σ₁² + σ₂²)).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.manifolds.piecewise import switch_on_sigma

from sciffusion.common.manifolds.so3 import exp_map, log_map, random_axis

SERIES_SWITCH_SIGMA = 1.0
"""σ at and below which the images form is used, above which the series."""
SERIES_TERMS = 16
"""Series terms l = 0..15: for σ > 1 the first dropped term is < exp(−128)."""
IMAGE_TERMS = 4
"""Images k = −4..4: for σ ≤ 1 the first dropped term is < exp(−4π²·4·3/2) relative."""
_OMEGA_EPS = 1e-6  # below this angle the score is continued linearly (it is odd in ω and → 0)


def _as_f64(omega: Tensor | float, sigma: Tensor | float) -> tuple[Tensor, Tensor]:
    omega = torch.as_tensor(omega, dtype=torch.float64)
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=omega.device)
    if (sigma <= 0).any():
        raise ValueError("sigma: IGSO(3) needs sigma > 0")
    return torch.broadcast_tensors(omega, sigma)


def log_density_series(omega: Tensor, sigma: Tensor, terms: int = SERIES_TERMS) -> tuple[Tensor, Tensor]:
    """(log f, d log f/dω) from the series with ``terms`` terms; ω ∈ (0, π], σ > 0 (broadcast)."""
    l = torch.arange(terms, dtype=omega.dtype, device=omega.device)
    w, s = omega[..., None], sigma[..., None]
    a = (2 * l + 1) * torch.exp(-l * (l + 1) * s**2 / 2)
    lo, dlo = torch.sin(w / 2), 0.5 * torch.cos(w / 2)
    hi, dhi = torch.sin((l + 0.5) * w), (l + 0.5) * torch.cos((l + 0.5) * w)
    f = (a * hi).sum(-1) / lo[..., 0]
    df = (a * (dhi * lo - hi * dlo)).sum(-1) / lo[..., 0] ** 2
    return torch.log(f), df / f


def log_density_images(omega: Tensor, sigma: Tensor, images: int = IMAGE_TERMS) -> tuple[Tensor, Tensor]:
    """(log f, d log f/dω) from the images form with k = −images..images; ω ∈ (0, π], σ > 0.

    Every exponent is written relative to the k = 0 term, (u_k² − ω²)/(2σ²) ≥ 0 on [0, π], so
    nothing underflows for small σ.
    """
    k = torch.arange(-images, images + 1, dtype=omega.dtype, device=omega.device)
    w, s = omega[..., None], sigma[..., None]
    u = w + 2 * math.pi * k
    e = torch.exp(-(u**2 - w**2) / (2 * s**2)) * (1 - 2 * (k.abs() % 2))
    sh, dsh = (u * e).sum(-1), ((1 - u * (u - w) / s**2) * e).sum(-1)
    log_c = 0.5 * math.log(2 * math.pi) - 3 * torch.log(sigma) + sigma**2 / 8
    log_f = log_c - omega**2 / (2 * sigma**2) + torch.log(sh) - torch.log(torch.sin(omega / 2))
    dlog_f = -omega / sigma**2 + dsh / sh - 0.5 / torch.tan(omega / 2)
    return log_f, dlog_f


def _log_f_and_score(omega: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    w = omega.clamp(_OMEGA_EPS, math.pi)
    log_f, dlog_f = switch_on_sigma(log_density_images, log_density_series, w, sigma, SERIES_SWITCH_SIGMA)
    dlog_f = torch.where(omega < _OMEGA_EPS, dlog_f * omega / _OMEGA_EPS, dlog_f)
    return log_f, dlog_f


def igso3_log_density(omega: Tensor | float, sigma: Tensor | float) -> Tensor:
    """log f(ω; σ): log density of IGSO(3) w.r.t. the normalised Haar measure, as a function of the
    angle ω ∈ [0, π] (radians) of R μᵀ. Broadcasts ω and σ; float64."""
    omega, sigma = _as_f64(omega, sigma)
    return _log_f_and_score(omega, sigma)[0]


def igso3_angle_density(omega: Tensor | float, sigma: Tensor | float) -> Tensor:
    """Density of the angle ω ∈ [0, π] of an IGSO(3)(σ) rotation: f(ω; σ)(1 − cos ω)/π."""
    omega, sigma = _as_f64(omega, sigma)
    return torch.exp(_log_f_and_score(omega, sigma)[0]) * (1 - torch.cos(omega)) / math.pi


def igso3_angle_score(omega: Tensor | float, sigma: Tensor | float) -> Tensor:
    """d/dω log f(ω; σ) (radians⁻¹), ≤ 0: the magnitude of the IGSO(3) score at angle ω."""
    omega, sigma = _as_f64(omega, sigma)
    return _log_f_and_score(omega, sigma)[1]


def igso3_score_vec(v: Tensor, sigma: Tensor | float) -> Tensor:
    """Score of IGSO(3)(μ, σ) at R = exp([v]×) μ, as a rotation vector in the left (space) frame:
    (d log f/dω)(|v|) · v/|v|. v: [B, 3] radians; sigma: scalar or [B]. Returns [B, 3], v's dtype."""
    omega = v.norm(dim=-1)
    sigma = torch.as_tensor(sigma, dtype=v.dtype, device=v.device).expand(omega.shape)
    ds = igso3_angle_score(omega.double(), sigma.double())
    return (v.double() * (ds / omega.double().clamp_min(_OMEGA_EPS))[..., None]).to(v.dtype)


def igso3_score(r: Tensor, mean: Tensor, sigma: Tensor | float) -> Tensor:
    """Score of IGSO(3)(mean, σ) at rotations r [B, 3, 3] (mean [3, 3] or [B, 3, 3]) as left
    rotation vectors [B, 3]: :func:`igso3_score_vec` of log(r meanᵀ)."""
    return igso3_score_vec(log_map(r @ mean.transpose(-1, -2)), sigma)


@lru_cache(maxsize=128)
def _angle_cdf_table(sigma: float, points: int = 4097) -> tuple[Tensor, Tensor]:
    """ω grid on [0, min(π, 12σ)] and the normalised CDF of the angle (cumulative trapezoid)."""
    omega = torch.linspace(0, min(math.pi, 12 * sigma), points, dtype=torch.float64)
    pdf = igso3_angle_density(omega, sigma)
    cdf = torch.cat([pdf.new_zeros(1), torch.cumsum((pdf[1:] + pdf[:-1]) / 2 * (omega[1] - omega[0]), 0)])
    return omega, cdf / cdf[-1]


def igso3_angle_cdf(omega: Tensor, sigma: float) -> Tensor:
    """CDF of the IGSO(3)(σ) angle at ω (tabulated, linear interpolation); for KS tests."""
    grid, cdf = _angle_cdf_table(float(sigma))
    idx = torch.searchsorted(grid, omega.double().clamp(0, float(grid[-1])).contiguous()).clamp(1, len(grid) - 1)
    w = (omega.double() - grid[idx - 1]) / (grid[idx] - grid[idx - 1])
    return (cdf[idx - 1] + w.clamp(0, 1) * (cdf[idx] - cdf[idx - 1])).clamp(0, 1)


def sample_igso3_angle(sigma: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Angles ω ~ IGSO(3)(σ) by inverse CDF, one per entry of ``sigma`` ([B], float64 result);
    one table per distinct σ value."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    if (sigma <= 0).any():
        raise ValueError("sigma: IGSO(3) needs sigma > 0")
    u = torch.rand(sigma.shape, dtype=torch.float64, generator=generator)
    out = torch.empty_like(u)
    for s in torch.unique(sigma).tolist():
        sel = sigma == s
        grid, cdf = _angle_cdf_table(float(s))
        idx = torch.searchsorted(cdf, u[sel].contiguous()).clamp(1, len(cdf) - 1)
        c0, c1 = cdf[idx - 1], cdf[idx]
        t = ((u[sel] - c0) / (c1 - c0).clamp_min(1e-300)).clamp(0, 1)
        out[sel] = grid[idx - 1] + t * (grid[idx] - grid[idx - 1])
    return out


def sample_igso3_vec(sigma: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Rotation vectors [B, 3] (float64) of IGSO(3)(I, σ): uniform axis × inverse-CDF angle."""
    omega = sample_igso3_angle(sigma, generator)
    return random_axis(tuple(omega.shape), generator=generator) * omega[..., None]


def sample_igso3(mean: Tensor, sigma: Tensor | float, generator: Optional[torch.Generator] = None) -> Tensor:
    """Rotations [B, 3, 3] ~ IGSO(3)(mean, σ): exp([v]×) mean with v from :func:`sample_igso3_vec`.
    mean: [B, 3, 3]; sigma: scalar or [B]. Returns mean's dtype and device."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(mean.shape[:-2])
    v = sample_igso3_vec(sigma.cpu(), generator).to(device=mean.device, dtype=mean.dtype)
    return exp_map(v) @ mean


_NORM_SIGMAS = (1e-3, 10.0, 257)  # log-spaced table for score_norm


@lru_cache(maxsize=1)
def _score_norm_table() -> tuple[Tensor, Tensor]:
    lo, hi, n = _NORM_SIGMAS
    sigmas = torch.logspace(math.log10(lo), math.log10(hi), n, dtype=torch.float64)
    norms = []
    for s in sigmas.tolist():
        omega = torch.linspace(0, min(math.pi, 12 * s), 4097, dtype=torch.float64)[1:]
        pdf = igso3_angle_density(omega, s)
        norms.append(torch.sqrt((igso3_angle_score(omega, s) ** 2 * pdf).sum() / pdf.sum()))
    return sigmas.log(), torch.stack(norms)


def score_norm(sigma: Tensor | float) -> Tensor:
    """sqrt(E|∇ log p|²) of IGSO(3)(σ) (radians⁻¹), for loss weighting; ≈ sqrt(3)/σ for small σ.
    Tabulated for σ ∈ [1e-3, 10] on first use and interpolated in log σ; outside, sqrt(3)/σ below
    and the σ = 10 value above."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    log_s, norms = _score_norm_table()
    x = sigma.log().clamp(float(log_s[0]), float(log_s[-1]))
    idx = torch.searchsorted(log_s, x.contiguous().reshape(-1)).clamp(1, len(log_s) - 1).reshape(x.shape)
    w = (x - log_s[idx - 1]) / (log_s[idx] - log_s[idx - 1])
    out = norms[idx - 1] + w * (norms[idx] - norms[idx - 1])
    return torch.where(sigma < _NORM_SIGMAS[0], math.sqrt(3) / sigma, out)
