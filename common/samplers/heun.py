"""Heun's 2nd-order sampler with EDM stochastic churn (Karras et al. 2022, Algorithm 2)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.samplers.base import SampleResult, StepCallback, add_churn, churn_sigma, prepare, report


def heun(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
         callback: Optional[StepCallback] = None, s_churn: float = 0.0, s_tmin: float = 0.0,
         s_tmax: float = float("inf"), s_noise: float = 1.0) -> SampleResult:
    """EDM Algorithm 2. Per step: optional churn σ → σ̂, Euler to σ', then (if σ' > 0) the trapezoidal
    correction with a second model call. The last step (σ' = 0) is an Euler step, so NFE = 2·steps − 1.
    With ``s_churn = 0`` it is the deterministic Heun ODE solver (Algorithm 1)."""
    den, sig = prepare(denoise, sigmas, x)
    n = len(sig) - 1
    for i in range(n):
        s_hat = churn_sigma(sig[i], n, s_churn, s_tmin, s_tmax)
        x = add_churn(x, sig[i], s_hat, s_noise, generator)
        d = den(x, s_hat)
        slope = (x - d) / s_hat
        if sig[i + 1] == 0:
            x = d
        else:
            x_euler = x + (sig[i + 1] - s_hat) * slope
            d2 = den(x_euler, sig[i + 1])
            slope2 = (x_euler - d2) / sig[i + 1]
            x = x + (sig[i + 1] - s_hat) * 0.5 * (slope + slope2)
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)


