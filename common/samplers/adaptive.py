"""Adaptive probability-flow ODE sampler (torchdiffeq, Dormand–Prince 5(4) by default)."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.samplers.base import SampleResult, StepCallback, prepare, report


def adaptive_ode(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                 generator: Optional[torch.Generator] = None, callback: Optional[StepCallback] = None,
                 rtol: float = 1e-3, atol: float = 1e-3, method: str = "dopri5") -> SampleResult:
    """Integrate the PF-ODE in t = log σ, dx/dt = σ dx/dσ = x − D(x, σ), from
    σ = sigmas[0] to the last nonzero σ of the grid with an adaptive solver, then one final denoising
    call. Only the grid's end points are used; NFE is whatever the solver needed, plus one."""
    from torchdiffeq import odeint

    if rtol <= 0 or atol <= 0:
        raise ValueError(f"rtol/atol: must be > 0, got ({rtol}, {atol})")
    den, sig = prepare(denoise, sigmas, x)
    positive = [s for s in sig if s > 0]
    t_span = torch.tensor([math.log(positive[0]), math.log(positive[-1])], dtype=torch.float64)

    def rhs(t: Tensor, state: Tensor) -> Tensor:
        return state - den(state, float(torch.exp(t)))

    if len(positive) > 1:
        x = odeint(rhs, x, t_span.to(x.dtype) if x.dtype == torch.float64 else t_span.float(),
                   rtol=rtol, atol=atol, method=method)[-1]
    d = den(x, positive[-1])
    report(callback, 0, positive[0], 0.0, d, d)
    return SampleResult(d, den.nfe)
