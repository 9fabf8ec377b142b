"""UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of
Diffusion Models"), data-prediction form in σ-space (λ = −log σ, h = λ_{i+1} − λ_i), with the B(h)
variants of the paper: ``bh1`` B(h) = −h... (written for hh = −h: B = hh) and ``bh2`` B = e^{hh} − 1.

Per step from σ_i to σ_{i+1} with model outputs D_i, D_{i−1}, ... and r_k = (λ_{i−k} − λ_i)/h:

    predictor (UniP-p):  x̃' = (σ'/σ) x − φ₁ D_i − B(h) Σ_k ρ_k (D_{i−k} − D_i)/r_k
    corrector (UniC-p):  after D' = D(x̃', σ') the same step is redone with D' as one more node
                         (ρ from the full p×p system, ρ = 1/2 for p = 1): effective order p + 1,
                         no extra model call; the next step starts from the corrected state.

with φ₁ = e^{−h} − 1 and ρ solving Σ_k ρ_k r_k^{m−1} = m! φ_{m+1}-type moments / B(h) (the paper's
eq. for R_p(h) ρ = g_p(h)/B(h)); order 2 predictors use ρ = 1/2 as in the reference implementation.
Warm-up uses the outputs available; ``lower_order_final`` lets the order drop to the number of steps
left, as the reference implementation does.

The step to σ = 0 normally returns D(x̃_{n−1}) — the corrector's work on the last state is then
thrown away (diffusers does this). With ``final_correction`` the last output is instead
D(x̃) + (x_c − x̃) = x_c − σ_min ε̂(x̃): the corrected state denoised with the predicted state's noise
estimate (exact as σ_min → 0 because ∂D/∂x → I), which costs no model call.

This module only supplies the B(h) weights; the loop, the plan and the weighted sum are those of
:func:`~sciffusion.common.samplers.exp_multistep.run_multistep`, whose exact-integral weights give the
registry's ``unipc`` / ``unipc3``. All coefficients are Python floats computed before the loop.
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.samplers.base import SampleResult, StepCallback
from sciffusion.common.samplers.exp_multistep import StepWeights, run_multistep

Variant = Literal["bh1", "bh2"]


def solve_small(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for a tiny dense system (float64 Python floats)."""
    n = len(b)
    m = [list(row) + [rhs] for row, rhs in zip(a, b)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        if m[c][c] == 0:
            raise ValueError("solve_small: singular system")
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        out[r] = (m[r][n] - sum(m[r][k] * out[k] for k in range(r + 1, n))) / m[r][r]
    return out


def unipc_rhos(h: float, rks: Sequence[float], variant: Variant, corrector: bool) -> tuple[float, float, list[float]]:
    """(φ₁ = e^{−h} − 1, B(h), ρ) for one UniPC update. ``rks``: r_k of the previous outputs used,
    and for the corrector the new output's r = 1 last. Predictor: ρ for ``rks`` (order 2: [1/2]);
    corrector: ρ for ``rks`` including the final 1 (order 1: [1/2])."""
    hh = -h
    h_phi_1 = math.expm1(hh)
    if variant == "bh1":
        b_h = hh
    elif variant == "bh2":
        b_h = math.expm1(hh)
    else:
        raise ValueError(f"variant: must be bh1 or bh2, got {variant!r}")
    nodes = list(rks) if corrector else list(rks) + [1.0]
    order = len(nodes)
    h_phi_k, factorial, g = h_phi_1 / hh - 1, 1, []
    for i in range(1, order + 1):
        g.append(h_phi_k * factorial / b_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    R = [[r ** (i - 1) for r in nodes] for i in range(1, order + 1)]
    if corrector:
        rhos = [0.5] if order == 1 else solve_small(R, g)
    elif order == 1:
        rhos = []
    elif order == 2:
        rhos = [0.5]
    else:
        rhos = solve_small([row[:-1] for row in R[:-1]], g[:-1])
    return h_phi_1, b_h, rhos


def _update_weights(h: float, rks: list[float], variant: Variant, corrector: bool) -> list[float]:
    """Weights on [D_i, D_{i−1}, …] (+ D_{i+1} last for the corrector) such that
    x' = (σ'/σ) x + Σ w_j D_j."""
    h_phi_1, b_h, rhos = unipc_rhos(h, rks, variant, corrector)
    n_prev = len(rks) - (1 if corrector else 0)
    w = [-h_phi_1] + [0.0] * n_prev + ([0.0] if corrector else [])
    for k, rho in enumerate(rhos):
        r = rks[k]
        # −B ρ (D_k − D_i)/r_k
        w[k + 1] += -b_h * rho / r
        w[0] += b_h * rho / r
    return w


def bh_weights(variant: Variant) -> StepWeights:
    """UniPC's step weights for B(h) ``variant`` in the form :func:`~.exp_multistep.run_multistep` takes.
    They equal :func:`~.exp_multistep.exact_weights` wherever ρ comes from the full solve; they differ
    where the reference fixes ρ = 1/2 (order-2 predictor, order-1 corrector)."""
    if variant not in ("bh1", "bh2"):
        raise ValueError(f"variant: must be bh1 or bh2, got {variant!r}")

    def weights(h: float, offsets: list[float], corrector: bool) -> list[float]:
        return _update_weights(h, [o / h for o in offsets[1:]], variant, corrector)

    return weights


def unipc_bh(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
             callback: Optional[StepCallback] = None, order: int = 2, variant: Variant = "bh2",
             corrector: bool = True, lower_order_final: bool = True, final_correction: bool = True) -> SampleResult:
    """UniPC-p with B(h) ``variant`` (bh1 / bh2), predictor order ``order`` (1-3) plus the UniC
    corrector (effective order + 1), on the loop of :func:`~.exp_multistep.run_multistep`. NFE = steps.
    See the module docstring for ``lower_order_final`` and ``final_correction``."""
    if not 1 <= order <= 3:
        raise ValueError(f"order: must be in 1..3, got {order}")
    return run_multistep(denoise, sigmas, x, bh_weights(variant), order=order, corrector=corrector,
                         lower_order_below=math.inf if lower_order_final else 0, final_correction=final_correction,
                         callback=callback)
