"""Exponential-integrator multistep samplers with an optional UniC corrector: one loop for
:func:`exp_multistep` (exact weights, below) and UniPC's B(h) variants (:mod:`.unipc`).

In λ = −log σ the PF-ODE is dx/dλ = D − x, so exactly
    x(λ') = e^{−h} x(λ) + ∫_0^h e^{−(h−v)} D(λ + v) dv,   h = λ' − λ.
A multistep step replaces D by the polynomial through the last p model outputs and writes the
integral as weights on them: x' = (σ'/σ) x + Σ_j w_j D_j (σ'/σ = e^{−h}). :func:`exp_integrator_weights`
integrates the Lagrange polynomial (at the outputs' own λ, so any grid spacing is handled) against the
exponential weight exactly (Gauss–Legendre, 16 nodes, float64). ``order=2`` is the exact-integral
variant of DPM-Solver++(2M); ``order=3`` corresponds to DPM-Solver++(3M) / DEIS-tAB3 (Zhang & Chen 2023).

The corrector follows UniPC (Zhao et al. 2023): after the model is called at the predicted state
x̃_{i+1}, the step from x_i is redone with D_{i+1} added as one more node (order + 1) — no extra
model call; the next step starts from the corrected state but reuses D_{i+1}.

All weights are Python floats computed before the loop (:func:`multistep_plan`).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.samplers.base import SampleResult, StepCallback, prepare, report

StepWeights = Callable[[float, list[float], bool], list[float]]
"""``weights(h, offsets, corrector) -> w``: weights on the outputs at λ-offsets ``offsets`` from the
step's start (newest first, so ``offsets[0] = 0``; the corrector's new output last, at offset h)."""

Plan = list[tuple[int, list[float], Optional[list[float]]]]


@lru_cache(maxsize=1)
def _gauss_legendre_01() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(16)
    return (nodes + 1) / 2, weights / 2


def exp_integrator_weights(h: float, offsets: Sequence[float]) -> np.ndarray:
    """Weights w_j with ∫_0^h e^{−(h−v)} P(v) dv = Σ_j w_j D_j, where P interpolates D_j at v = offsets[j]
    (λ-offsets from the step's start, in units of λ; float64). Exact for polynomial D of degree
    < len(offsets)."""
    u_nodes, u_weights = _gauss_legendre_01()
    v = np.asarray(offsets, dtype=np.float64) / h  # work in u = v/h for conditioning
    k = len(v)
    vander = np.vander(v, k, increasing=True)  # [m, p] = v_m^p
    coeffs = np.linalg.solve(vander, np.eye(k))  # column j: coefficients of the Lagrange basis L_j(u)
    basis_at_nodes = np.vander(u_nodes, k, increasing=True) @ coeffs  # [node, j]
    kernel = np.exp(-h * (1 - u_nodes)) * u_weights
    return h * kernel @ basis_at_nodes


def exact_weights(h: float, offsets: list[float], corrector: bool) -> list[float]:
    """:func:`exp_integrator_weights` as :data:`StepWeights` (the same rule for predictor and corrector)."""
    return exp_integrator_weights(h, offsets).tolist()


def multistep_plan(sig: list[float], order: int, weights: StepWeights, lower_order_below: float,
                   corrector: bool) -> Plan:
    """Per step i (σ_i → σ_{i+1} > 0): (order p used, predictor weights on [D_i, D_{i−1}, …],
    corrector weights on [D_i, …, D_{i−p+1}, D_{i+1}] or None). Warm-up steps use the outputs available;
    on grids of fewer than ``lower_order_below`` steps the last steps drop to the order the remaining
    steps allow. The corrector of step i is applied at step i + 1, after the model call at σ_{i+1}."""
    n = len(sig) - 1
    lam = [-math.log(s) for s in sig[:-1]]
    plan: Plan = []
    for i in range(n - 1):  # the step to σ = 0 returns the denoised estimate
        p = min(order, i + 1)
        if n < lower_order_below:
            p = min(p, n - i)
        h = lam[i + 1] - lam[i]
        offsets = [lam[i - k] - lam[i] for k in range(p)]
        plan.append((p, weights(h, offsets, False), weights(h, offsets + [h], True) if corrector else None))
    return plan


def _combine(x: Tensor, a: float, weights: list[float], ds: list[Tensor]) -> Tensor:
    """a x + Σ_j w_j d_j, with one allocation."""
    out = torch.mul(x, a)
    for w, d in zip(weights, ds):
        out.add_(d, alpha=w)
    return out


def run_multistep(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, weights: StepWeights, *, order: int,
                  corrector: bool, lower_order_below: float, final_correction: bool,
                  callback: Optional[StepCallback] = None) -> SampleResult:
    """The predictor(–corrector) loop shared by :func:`exp_multistep` and UniPC: one model call per
    step (NFE = steps). The step to σ = 0 returns the last denoised estimate; with
    ``final_correction`` (and the corrector) it returns D(x̃) + (x_c − x̃) instead, the corrected
    state denoised with the predicted state's noise estimate (see :mod:`.unipc`)."""
    den, sig = prepare(denoise, sigmas, x)
    n = len(sig) - 1
    plan = multistep_plan(sig, order, weights, lower_order_below, corrector)
    hist: list[Tensor] = []          # model outputs, newest first
    x_prev: Optional[Tensor] = None  # state at the start of the previous step
    for i in range(n):
        d = den(x, sig[i])
        x_pred = x
        if corrector and x_prev is not None:
            p, _, corr = plan[i - 1]
            x = _combine(x_prev, sig[i] / sig[i - 1], corr, hist[:p] + [d])
        hist.insert(0, d)
        del hist[order:]
        if sig[i + 1] == 0:
            x = d + (x - x_pred) if (final_correction and x is not x_pred) else d
            d = x  # the final denoised estimate
        else:
            p, pred, _ = plan[i]
            x_prev = x
            x = _combine(x, sig[i + 1] / sig[i], pred, hist[:p])
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)


def exp_multistep(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *,
                  generator: Optional[torch.Generator] = None, callback: Optional[StepCallback] = None,
                  order: int = 3, corrector: bool = False, lower_order_final: bool = True) -> SampleResult:
    """Multistep exponential integrator of the given ``order`` (1-4) with exact weights, optionally
    with the UniC corrector (effective order + 1, no extra model calls). Warm-up steps use the
    outputs available; with ``lower_order_final`` the last steps of a short grid (< 15 steps) drop
    to the order the remaining steps allow, as DPM-Solver++ does. The step to σ = 0 returns the last
    denoised estimate. NFE = steps."""
    if not 1 <= order <= 4:
        raise ValueError(f"order: must be in 1..4, got {order}")
    return run_multistep(denoise, sigmas, x, exact_weights, order=order, corrector=corrector,
                         lower_order_below=15 if lower_order_final else 0, final_correction=False, callback=callback)
