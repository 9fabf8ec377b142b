"""Anomaly scores read off a trained denoiser D(x, σ) ≈ E[x0 | x0 + σε = x] (σ-space, data units).

Each function takes ``denoise`` ``(x [B, ...], sigma [B]) -> x0 [B, ...]``, inputs ``x [B, ...]`` and
increasing noise levels ``sigmas [L]`` (:func:`~sciffusion.common.anomaly.features.noise_levels`), and
returns :class:`~sciffusion.common.anomaly.features.AnomalyScores` with one feature per level.

* **MSMA** (Mahmood, Lopez & Lipton 2021, "Multiscale score matching for out-of-distribution
  detection"): the score norm ‖s(x, σ_l)‖ with s = (D(x, σ) − x)/σ² (Tweedie), at the input itself.
  NFE = L.
* **Reconstruction** (Graham et al. 2023, "Denoising diffusion models for out-of-distribution
  detection"): noise x to σ_l with a seeded ε, denoise back to σ = 0 with ``steps`` Euler steps of the
  PF-ODE (``steps = 1`` is the one-step Tweedie estimate D(x + σ ε, σ)), and take the MSE to x per
  level. NFE = L · steps.
* **Path statistics** (Heng, Ghahramani & Rubinstein 2024, "Out-of-distribution detection with a single
  unconditional diffusion model", DiffPath): follow the deterministic PF-ODE from x at σ_1 up to σ_L
  with Euler steps dx/dσ = ε̂ = (x − D(x, σ))/σ; the features are the RMS of ε̂ at each level and the
  RMS of its rate of change dε̂/d ln σ between levels (the first- and second-order path terms). NFE = L.

For data N(μ, Σ) with the exact denoiser, s(x, σ) = −(Σ + σ²I)⁻¹(x − μ): every score grows with the
Mahalanobis distance of x, which the tests check.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.anomaly.features import AnomalyScores, dense, flat_mean, flat_norm
from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.grids import karras_grid
from sciffusion.common.noise import randn_like
from sciffusion.common.samplers.first_order import euler


def _check(x: Tensor, sigmas: Tensor) -> None:
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"x: need shape [B, ...] with B >= 1, got {tuple(x.shape)}")
    if sigmas.dim() != 1 or len(sigmas) == 0 or (sigmas <= 0).any():
        raise ValueError("sigmas: need a non-empty 1-D tensor of noise levels > 0")
    if len(sigmas) > 1 and not (sigmas[1:] > sigmas[:-1]).all():
        raise ValueError("sigmas: noise levels must increase")


def _level(sigma: Tensor, x: Tensor) -> Tensor:
    return sigma.to(x.dtype).to(x.device).expand(len(x))


@torch.no_grad()
def msma(denoise: DenoiseFn, x: Tensor, sigmas: Tensor) -> AnomalyScores:
    """Multiscale score norms ‖(D(x, σ_l) − x)/σ_l²‖ (module docstring), ``[B, L]``.

    Scalar: the mean over levels of RMS((D − x)/σ) (σ-scaled so the levels weigh alike). Map: the mean
    over levels of ((D − x)/σ)², channel-averaged.
    """
    _check(x, sigmas)
    norms, scaled, map_sum = [], [], torch.zeros_like(x)
    for sigma in sigmas:
        residual = denoise(x, _level(sigma, x)) - x
        norms.append(flat_norm(residual) / float(sigma) ** 2)
        scaled.append(flat_mean((residual / sigma) ** 2).sqrt())
        map_sum += (residual / sigma) ** 2
    names = tuple(f"msma_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas))
    return AnomalyScores(torch.stack(norms, 1).double(), names, torch.stack(scaled, 1).mean(1).double(),
                         len(sigmas), dense(map_sum / len(sigmas)))


@torch.no_grad()
def reconstruction(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, *, steps: int = 1,
                   generator: Optional[torch.Generator] = None, sigma_floor: float = 0.002) -> AnomalyScores:
    """Reconstruction MSE after noising to each σ_l and denoising (module docstring), ``[B, L]``.

    steps: Euler steps from σ_l to 0 on a Karras grid down to ``sigma_floor`` (1 = one Tweedie step).
    generator: seeds the noise ε (one draw per level). Scalar: mean over levels of the MSE divided by
    σ_l² + 1 (so no single level dominates). Map: mean over levels of the squared error.
    """
    _check(x, sigmas)
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    errors, map_sum, nfe = [], torch.zeros_like(x), 0
    for sigma in sigmas:
        s = float(sigma)
        noisy = x + s * randn_like(x, generator)
        grid = karras_grid(steps, min(sigma_floor, s / 2), s, dtype=x.dtype) if steps > 1 else \
            torch.tensor([s, 0.0], dtype=x.dtype)  # one exact Tweedie step
        grid = grid.to(x.device)
        result = euler(denoise, grid, noisy)
        nfe += result.nfe
        err = (result.x - x) ** 2
        errors.append(flat_mean(err))
        map_sum += err
    features = torch.stack(errors, 1).double()
    weights = 1.0 / (sigmas.double().to(features.device) ** 2 + 1.0)
    names = tuple(f"recon_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas))
    return AnomalyScores(features, names, (features * weights).mean(1), nfe, dense(map_sum / len(sigmas)))


@torch.no_grad()
def path_statistics(denoise: DenoiseFn, x: Tensor, sigmas: Tensor) -> AnomalyScores:
    """DiffPath-style statistics of the PF-ODE path from x at σ_1 to σ_L (module docstring):
    ``[B, 2L − 1]`` = RMS ε̂ at each level, then RMS dε̂/d ln σ between consecutive levels.

    Scalar: ∫ RMS(ε̂)² d ln σ by the trapezoid rule over the levels (the mean RMS² for one level).
    Map: the mean over levels of ε̂², channel-averaged.
    """
    _check(x, sigmas)
    eps_rms, rates, map_sum = [], [], torch.zeros_like(x)
    state, previous = x, None
    for i, sigma in enumerate(sigmas):
        eps = (state - denoise(state, _level(sigma, x))) / sigma
        eps_rms.append(flat_mean(eps**2).sqrt())
        map_sum += eps**2
        if previous is not None:
            rates.append(flat_mean(((eps - previous) / math.log(float(sigma) / float(sigmas[i - 1]))) ** 2).sqrt())
        if i + 1 < len(sigmas):
            state = state + (sigmas[i + 1] - sigma) * eps
        previous = eps
    rms = torch.stack(eps_rms, 1).double()
    features = torch.cat([rms, torch.stack(rates, 1).double()], 1) if rates else rms
    log_s = sigmas.double().log().to(rms.device)
    scalar = torch.trapezoid(rms**2, log_s, dim=1) if len(sigmas) > 1 else rms[:, 0] ** 2
    names = tuple(f"path_eps_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas)) + \
        tuple(f"path_rate_{i}" for i in range(len(rates)))
    return AnomalyScores(features, names, scalar, len(sigmas), dense(map_sum / len(sigmas)))


__all__ = ["msma", "path_statistics", "reconstruction"]
