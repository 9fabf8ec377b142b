"""What every sampler shares: the result type, NFE counting, the callback and the noise-injection steps.

A sampler is a function ``sampler(denoise, sigmas, x, *, generator=None, callback=None, **options)
-> SampleResult``: ``denoise(x [B, ...], sigma [B]) -> x0`` (σ-space, see
:mod:`sciffusion.common.denoisers`), ``sigmas`` a grid from :mod:`sciffusion.common.grids`, ``x`` the
initial state at ``sigmas[0]`` (typically ``sigmas[0] * randn``). It steps from σ_i to σ_{i+1} and
the last step, to σ = 0, returns the denoised estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Protocol

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.grids import check_grid
from sciffusion.common.noise import randn_like


StepCallback = Callable[["StepInfo"], None]


@dataclass(frozen=True)
class StepInfo:
    """Passed to a sampler's callback after each step: step index ``i`` (0-based), σ_i, σ_{i+1},
    the state after the step ``x`` and the denoised estimate ``denoised`` used in it."""

    i: int
    sigma: float
    sigma_next: float
    x: Tensor
    denoised: Tensor


@dataclass(frozen=True)
class SampleResult:
    """A sampler's output: the final sample ``x`` and the number of model calls ``nfe``."""

    x: Tensor
    nfe: int


class Sampler(Protocol):
    def __call__(self, denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                 generator: Optional[torch.Generator] = None,
                 callback: Optional[StepCallback] = None) -> SampleResult: ...


class CountingDenoiser:
    """Wraps a denoiser; counts calls (each call on the whole batch is one NFE) and broadcasts a
    scalar σ to ``[B]`` in the state's dtype."""

    __slots__ = ("fn", "nfe")

    def __init__(self, fn: DenoiseFn):
        self.fn = fn
        self.nfe = 0

    def __call__(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        self.nfe += 1
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.dim() == 0:
            sigma = sigma.expand(x.shape[0])
        return self.fn(x, sigma)


def prepare(denoise: DenoiseFn, sigmas: Tensor, x: Tensor) -> tuple[CountingDenoiser, list[float]]:
    """Check the grid and return a counting denoiser plus σ as Python floats (no per-step syncs)."""
    check_grid(sigmas)
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError("x: need a batch dimension with at least one sample")
    return CountingDenoiser(denoise), [float(s) for s in sigmas]


def ancestral_split(sigma: float, sigma_next: float, eta: float = 1.0) -> tuple[float, float]:
    """Split a step σ → σ' into a deterministic part to σ_down and fresh noise σ_up, with
    σ_down² + σ_up² = σ'². σ_up = η σ' sqrt(σ² − σ'²)/σ: η = 1 is the DDPM posterior q(x_{t−1}|x_t, x0)
    written in σ-space, η = 0 is DDIM (Song et al. 2021, eq. 16)."""
    if sigma_next == 0 or eta == 0:
        return sigma_next, 0.0
    sigma_up = min(sigma_next, eta * sigma_next * math.sqrt(max(sigma**2 - sigma_next**2, 0.0)) / sigma)
    return math.sqrt(sigma_next**2 - sigma_up**2), sigma_up


def churn_sigma(sigma: float, steps: int, s_churn: float, s_tmin: float, s_tmax: float) -> float:
    """EDM Algorithm 2, lines 4-5: the raised noise level σ̂ = σ (1 + γ) with
    γ = min(S_churn / N, sqrt(2) − 1) inside [S_tmin, S_tmax], else σ."""
    if s_churn <= 0 or not s_tmin <= sigma <= s_tmax:
        return sigma
    return sigma * (1 + min(s_churn / steps, math.sqrt(2) - 1))


def add_churn(x: Tensor, sigma: float, sigma_hat: float, s_noise: float,
              generator: Optional[torch.Generator]) -> Tensor:
    """EDM Algorithm 2, line 6: raise the state's noise from σ to σ̂ with fresh noise ×S_noise."""
    if sigma_hat == sigma:
        return x
    return x + s_noise * math.sqrt(sigma_hat**2 - sigma**2) * randn_like(x, generator)


def reverse_diffusion_step(x: Tensor, denoised: Tensor, sigma: float, sigma_next: float,
                           generator: Optional[torch.Generator]) -> Tensor:
    """Euler–Maruyama step of the reverse VE SDE in the variance time τ = σ² (Song et al. 2021's
    "reverse diffusion" predictor): x' = x + (σ² − σ'²) ∇log p + sqrt(σ² − σ'²) z with
    ∇log p = (D − x)/σ²; to σ' = 0 it returns the denoised estimate."""
    if sigma_next == 0:
        return denoised
    dvar = sigma**2 - sigma_next**2
    return x + (dvar / sigma**2) * (denoised - x) + math.sqrt(dvar) * randn_like(x, generator)


def report(callback: Optional[StepCallback], i: int, sigma: float, sigma_next: float,
           x: Tensor, denoised: Tensor) -> None:
    if callback is not None:
        callback(StepInfo(i, sigma, sigma_next, x, denoised))
