"""Linear multistep samplers in σ on the noise estimate ε̂ = (x − D(x, σ))/σ (dx/dσ = ε̂, the
σ-space PF-ODE; Karras et al. 2022 eq. 4 with σ(t) = t).

- ``lms``: variable-step Adams–Bashforth (the polynomial through the last ``order`` ε̂ at their own
  σ, integrated exactly over the step) — k-diffusion's ``sample_lms``, with the coefficients in
  closed form instead of numerical quadrature.
- ``variable_step=False`` uses the fixed equal-step Adams–Bashforth coefficients whatever the
  spacing: iPNDM (Zhang & Chen 2023, "DEIS", improved PNDM; warm-up by lower orders).
- ``corrector=True`` adds an Adams–Moulton corrector in PEC mode (as UniC does for exponential
  integrators): after the model call at the predicted state x̃', the step is redone with ε̂' as one
  more node (order + 1), no extra model call; the next step starts from the corrected state and
  reuses ε̂'. The step to σ = 0 then returns x_c − σ_min ε̂(x̃) (the corrected state denoised with
  the predicted state's noise estimate) instead of D(x̃).

All coefficients are Python floats computed before the loop.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.samplers.base import SampleResult, StepCallback, prepare, report

ADAMS_BASHFORTH = {1: [1.0], 2: [1.5, -0.5], 3: [23 / 12, -16 / 12, 5 / 12], 4: [55 / 24, -59 / 24, 37 / 24, -9 / 24]}


def _poly_mul(p: list[float], q: list[float]) -> list[float]:
    out = [0.0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return out


def lagrange_integral_weights(nodes: Sequence[float]) -> list[float]:
    """w_j = ∫_0^1 L_j(u) du for the Lagrange basis on ``nodes`` (in units of the step, 0 = start).
    Exact for polynomials of degree < len(nodes)."""
    out = []
    for j, uj in enumerate(nodes):
        poly, denom = [1.0], 1.0
        for m, um in enumerate(nodes):
            if m != j:
                poly = _poly_mul(poly, [-um, 1.0])
                denom *= uj - um
        out.append(sum(c / (p + 1) for p, c in enumerate(poly)) / denom)
    return out


def lms_plan(sig: list[float], order: int, variable_step: bool) -> list[tuple[int, list[float], list[float]]]:
    """Per step i with σ_{i+1} > 0: (order k, predictor weights on [ε̂_i, ε̂_{i−1}, …], corrector
    weights on [ε̂_{i+1}, ε̂_i, …] (k + 1 nodes)), all multiplied by Δσ = σ_{i+1} − σ_i."""
    plan = []
    for i in range(len(sig) - 2):
        k = min(order, i + 1)
        ds = sig[i + 1] - sig[i]
        if variable_step:
            nodes = [(sig[i - m] - sig[i]) / ds for m in range(k)]
            pred = lagrange_integral_weights(nodes)
            corr = lagrange_integral_weights([1.0] + nodes)
        else:
            pred = ADAMS_BASHFORTH[k]
            corr = lagrange_integral_weights([1.0] + [-float(m) for m in range(k)])
        plan.append((k, [ds * w for w in pred], [ds * w for w in corr]))
    return plan


def lms(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
        callback: Optional[StepCallback] = None, order: int = 4, variable_step: bool = True,
        corrector: bool = False) -> SampleResult:
    """Adams–Bashforth of ``order`` (1-4) in σ on ε̂ (see the module docstring). NFE = steps."""
    if not 1 <= order <= 4:
        raise ValueError(f"order: must be in 1..4, got {order}")
    den, sig = prepare(denoise, sigmas, x)
    n = len(sig) - 1
    plan = lms_plan(sig, order, variable_step)
    eps_hist: list[Tensor] = []   # newest first
    x_prev: Optional[Tensor] = None
    for i in range(n):
        d = den(x, sig[i])
        eps = (x - d).div_(sig[i])
        x_pred = x
        if corrector and x_prev is not None:
            k, _, corr = plan[i - 1]
            x = x_prev.clone()
            for w, e in zip(corr, [eps] + eps_hist[:k]):
                x.add_(e, alpha=w)
        eps_hist.insert(0, eps)
        del eps_hist[order:]
        if sig[i + 1] == 0:
            x = d + (x - x_pred) if x is not x_pred else d
            d = x  # the final denoised estimate (corrected state, predicted state's ε̂)
        else:
            k, pred, _ = plan[i]
            x_prev = x
            x = x.clone()
            for w, e in zip(pred, eps_hist[:k]):
                x.add_(e, alpha=w)
        report(callback, i, sig[i], sig[i + 1], x, d)
    return SampleResult(x, den.nfe)
