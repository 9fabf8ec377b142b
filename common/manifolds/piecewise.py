"""Evaluate a density from one of two closed forms, chosen per element by the noise level σ."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

LogDensityAndScore = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def switch_on_sigma(low_sigma_form: LogDensityAndScore, high_sigma_form: LogDensityAndScore,
                    x: Tensor, sigma: Tensor, switch: float) -> tuple[Tensor, Tensor]:
    """``low_sigma_form(x, σ)`` where σ ≤ ``switch``, ``high_sigma_form`` elsewhere; both return
    (log density, score) of x's shape. On a mixed batch each form is evaluated on σ clamped to its own
    side of the switch, so neither produces nan (in the values or under autograd)."""
    low = sigma <= switch
    if bool(low.all()):
        return low_sigma_form(x, sigma)
    if not bool(low.any()):
        return high_sigma_form(x, sigma)
    lp_low, sc_low = low_sigma_form(x, sigma.clamp(max=switch))
    lp_high, sc_high = high_sigma_form(x, sigma.clamp(min=switch))
    return torch.where(low, lp_low, lp_high), torch.where(low, sc_low, sc_high)
