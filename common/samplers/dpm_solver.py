"""DPM-Solver++ samplers in σ-space (Lu et al. 2022, "DPM-Solver++"), with λ = −log σ, h = λ' − λ.

Data-prediction form of the PF-ODE: x(λ') = (σ'/σ) x(λ) + σ' ∫_λ^{λ'} e^{u} D(u) du.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.noise import randn_like
from sciffusion.common.samplers.base import SampleResult, StepCallback, prepare, report


def dpm_solver_1(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                 generator: Optional[torch.Generator] = None,
                 callback: Optional[StepCallback] = None) -> SampleResult:
    """First-order DPM-Solver(++): x' = (σ'/σ) x − (e^{−h} − 1) D, identical to DDIM(η=0) and Euler
    in σ-space. NFE = steps."""
    den, sig = prepare(denoise, sigmas, x)
    for i in range(len(sig) - 1):
        d = den(x, sig[i])
        x = d if sig[i + 1] == 0 else (sig[i + 1] / sig[i]) * x + (1 - sig[i + 1] / sig[i]) * d
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)


def dpmpp_2m(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
             callback: Optional[StepCallback] = None) -> SampleResult:
    """DPM-Solver++(2M), Lu et al. 2022 Algorithm 2: x' = (σ'/σ) x − (e^{−h} − 1) D_eff with
    D_eff = (1 + 1/(2r)) D_i − 1/(2r) D_{i−1}, r = h_{i−1}/h_i; first step first order; the step to
    σ = 0 returns D. It is :func:`dpmpp_2m_sde` with η = 0 (midpoint form), which expands to exactly
    this update. NFE = steps."""
    return dpmpp_2m_sde(denoise, sigmas, x, generator=generator, callback=callback, eta=0.0)


def dpmpp_2m_sde(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                 generator: Optional[torch.Generator] = None, callback: Optional[StepCallback] = None,
                 eta: float = 1.0, s_noise: float = 1.0,
                 solver_type: Literal["midpoint", "heun"] = "midpoint") -> SampleResult:
    """SDE-DPM-Solver++(2M) (Lu et al. 2022, eq. for the SDE variant; k-diffusion's form): with
    η h added to the exponent, x' = (σ'/σ) e^{−ηh} x + (1 − e^{−h−ηh}) D + correction
    + σ' sqrt(1 − e^{−2ηh}) s_noise z. η = 0 gives the ODE solver. NFE = steps."""
    if eta < 0:
        raise ValueError(f"eta: must be >= 0, got {eta}")
    if solver_type not in ("midpoint", "heun"):
        raise ValueError(f"solver_type: must be midpoint or heun, got {solver_type!r}")
    den, sig = prepare(denoise, sigmas, x)
    d_prev, h_prev = None, None
    for i in range(len(sig) - 1):
        d = den(x, sig[i])
        if sig[i + 1] == 0:
            x = d
        else:
            h = math.log(sig[i] / sig[i + 1])
            eh = eta * h
            one_minus = -math.expm1(-h - eh)
            correction = 0.0  # coefficient k of the 2nd-order term k (D_i − D_{i−1})
            if d_prev is not None:
                r = h_prev / h
                correction = ((one_minus / (-h - eh) + 1) if solver_type == "heun" else 0.5 * one_minus) / r
            # x' = a x + (1 − e^{−h−ηh} + k) D_i − k D_{i−1} [+ noise], as fused in-place adds on a new
            # tensor (one allocation instead of one per term; matters at large batch)
            x = x.mul((sig[i + 1] / sig[i]) * math.exp(-eh)).add_(d, alpha=one_minus + correction)
            if d_prev is not None:
                x.add_(d_prev, alpha=-correction)
            if eta > 0:
                x.add_(randn_like(x, generator), alpha=sig[i + 1] * math.sqrt(-math.expm1(-2 * eh)) * s_noise)
            h_prev = h
        d_prev = d
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)
