"""Twisted sequential Monte Carlo: asymptotically exact conditional sampling and tilting.

:func:`guided_smc` takes any (proposal, twist) pair; :func:`twisted_smc` / :func:`inpaint_smc` are
the linear-measurement instance described below, :func:`energy_smc` the tilt p(x0) exp(−λ E(x0))
(proposal: x̂0 energy guidance; twist exp(−λ E(D(x, σ)))).

The posterior denoiser of :mod:`.posterior` is exact only where p(x0 | x_σ) is Gaussian; on a
multimodal conditional it gets the mode weights wrong. This sampler corrects it by importance
weights, in the manner of the twisted diffusion sampler (Wu et al. 2023, "Practical and asymptotically
exact conditional sampling in diffusion models") and MCGdiff (Cardoso et al. 2023):

- particles move from σ to σ' with the Gaussian reverse kernel q(x' | x) = N(x0 + (σ'²/σ²)(x − x0),
  σ'²(1 − σ'²/σ²) I) around x0 = D_y(x, σ) (the proposal) — the same kernel around the prior
  x0 = D(x, σ) is the unconditional model's transition p(x' | x);
- the twist p̃(y | x, σ) = N(y; A D(x, σ), (s_y² + σ²) I) makes the intermediate targets
  π_σ(x) ∝ p_σ(x) p̃(y | x, σ), which tend to p(x0 | y) as σ → 0;
- weights w ← w · p(x' | x) p̃(y | x', σ') / (q(x' | x) p̃(y | x, σ)), and the particles of each group
  are resampled (systematic) when the group's effective sample size falls below ``ess_threshold``.

With infinitely many particles and fine grids the output is the exact conditional; with finitely many
it is biased like any SMC, and the particles of a group are correlated through resampling (they are a
weighted population, not independent draws). The batch is ``groups`` contiguous groups of particles,
one conditioning each (the measurement may differ between groups). One model call per step (one
forward, cg_iters + 1 backward passes): the twist at x' reuses the next step's prior denoiser.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor

from sciffusion.common.grids import check_grid
from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.guidance.gradient import energy_guided_pair
from sciffusion.common.guidance.posterior import (
    LinearOperator, batch_dot, keep_known, mask_operator, posterior_and_prior,
)
from sciffusion.common.noise import rand, randn_like
from sciffusion.common.samplers.base import SampleResult, StepCallback, StepInfo


@dataclass(frozen=True)
class SMCResult(SampleResult):
    """``x``: the equally weighted particles after the final resampling [B, ...]; ``nfe``: model calls;
    ``ess``: per step, the mean over groups of the effective sample size as a fraction of the group;
    ``resamples``: how many steps resampled at least one group (the final resampling not counted)."""

    ess: list[float] = field(default_factory=list)
    resamples: int = 0


def _sq_norm(v: Tensor) -> Tensor:
    return batch_dot(v, v)


def systematic_resample(log_w: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """Indices [G, P] (into each group's P particles) by systematic resampling of log weights [G, P]."""
    g, p = log_w.shape
    w = torch.softmax(log_w, dim=1)
    cdf = torch.cumsum(w, dim=1)
    cdf[:, -1] = 1.0
    u = rand((g, 1), generator=generator, dtype=w.dtype, device=w.device)
    u = (u + torch.arange(p, dtype=w.dtype, device=w.device)) / p
    return torch.searchsorted(cdf, u).clamp_max(p - 1)


PairFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def guided_smc(make_pair: Callable[[DenoiseFn], PairFn], log_twist: Callable[[Tensor, float], Tensor], *,
               groups: int = 1, ess_threshold: float = 0.5, finalize: Optional[Callable[[Tensor], Tensor]] = None):
    """The SMC sampler for any twist: ``(denoise, sigmas, x, *, generator, callback) -> SMCResult``.

    make_pair: prior D ↦ ``(x, σ) -> (D_guided, D)``, the proposal's denoiser and the prior's from one
    pass; log_twist: ``(D(x, σ) [B, ...], σ) -> [B]``, log p̃ of the condition given x at σ, which must
    tend to the target's log-tilt as σ → 0 (e.g. −λ E(x0)). See :func:`twisted_smc` for the rest.
    """
    if not 0 < ess_threshold <= 1:
        raise ValueError(f"ess_threshold: must be in (0, 1], got {ess_threshold}")
    if groups < 1:
        raise ValueError(f"groups: must be >= 1, got {groups}")

    def sample(denoise: DenoiseFn, sigmas: Tensor, x: Tensor, *, generator: Optional[torch.Generator] = None,
               callback: Optional[StepCallback] = None) -> SMCResult:
        check_grid(sigmas)
        pair = make_pair(denoise)
        b = x.shape[0]
        if b % groups:
            raise ValueError(f"x: batch {b} is not a multiple of groups={groups}")
        p = b // groups
        sig = [float(s) for s in sigmas]
        log_w = torch.zeros(b, dtype=torch.float64, device=x.device)
        ess_hist: list[float] = []
        resamples = 0
        nfe = 0
        for i in range(len(sig) - 1):
            s, s_next = sig[i], sig[i + 1]
            sv = torch.full((b,), s, dtype=x.dtype, device=x.device)
            d_y, d = pair(x, sv)
            nfe += 1
            log_w = log_w + log_twist(d, s).double()
            lw = log_w.reshape(groups, p)
            ess = torch.softmax(lw, 1).pow(2).sum(1).reciprocal() / p
            ess_hist.append(float(ess.mean()))
            low = ess < ess_threshold
            last = s_next == 0
            if bool(low.any()) or last:
                idx = systematic_resample(lw, generator)
                keep = torch.arange(p, device=idx.device).expand(groups, p)
                redo = low | last
                idx = torch.where(redo[:, None], idx, keep) + (torch.arange(groups, device=idx.device) * p)[:, None]
                flat = idx.reshape(-1)
                x, d_y, d = x[flat], d_y[flat], d[flat]
                lw = torch.where(redo[:, None], torch.zeros_like(lw), lw)
                log_w = lw.reshape(-1)
                resamples += int(bool(low.any()))
            if callback is not None:
                callback(StepInfo(i, s, s_next, x, d_y))
            if last:
                x = d_y
                break
            c = s_next**2 / s**2
            std = math.sqrt(s_next**2 * (1 - c))
            mean_q = d_y + c * (x - d_y)
            mean_p = d + c * (x - d)
            x_next = mean_q + std * randn_like(x, generator)
            log_w = log_w + (-0.5 * (_sq_norm(x_next - mean_p) - _sq_norm(x_next - mean_q)) / std**2).double()
            log_w = log_w - log_twist(d, s).double()  # the twist at x leaves; the one at x' enters next step
            x = x_next
        out = finalize(x) if finalize is not None else x
        return SMCResult(out, nfe, ess_hist, resamples)

    return sample


def twisted_smc(operator: LinearOperator, y: Tensor, noise_std: float = 0.0, *, groups: int = 1,
                cg_iters: int = 2, ess_threshold: float = 0.5, finalize: Optional[Callable[[Tensor], Tensor]] = None):
    """A sampler for y = A x0 + N(0, s_y²): ``(denoise, sigmas, x, *, generator, callback) -> SMCResult``.

    Call it like any sampler with the PRIOR denoiser D(x [B, ...], σ [B]) and a grid ending in 0 (the
    last step returns the posterior denoiser's estimate). operator: linear A [B, ...] → measurement
    shape; y: measurements (per sample or broadcastable); groups: the batch B is ``groups`` contiguous
    groups of B/groups particles, resampled within the group; ess_threshold ∈ (0, 1]: resample a group
    when its ESS/P falls below it; finalize: applied to the output (e.g. put the known pixels back).
    """
    def log_twist(d: Tensor, sigma: float) -> Tensor:
        return -0.5 * _sq_norm(y.to(d) - operator(d)) / (noise_std**2 + sigma**2)

    return guided_smc(lambda denoise: posterior_and_prior(denoise, operator, y, noise_std, cg_iters), log_twist,
                      groups=groups, ess_threshold=ess_threshold, finalize=finalize)


def energy_smc(energy: Callable[[Tensor], Tensor], scale: float, *, groups: int = 1, ess_threshold: float = 0.5):
    """Exact tilting p(x0) exp(−λ E(x0)) in the limit of many particles: the proposal is
    :func:`~sciffusion.common.guidance.gradient.energy_guidance` (D − λσ²∇E(D)), the twist
    exp(−λ E(D(x, σ))), which is the target tilt at σ → 0. energy: ``E(x0 [B, ...]) -> [B]``; scale: λ ≥ 0.
    Returns a sampler ``(denoise, sigmas, x, *, generator, callback) -> SMCResult``."""
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale: must be finite and >= 0, got {scale}")

    def log_twist(d: Tensor, sigma: float) -> Tensor:
        return -scale * energy(d).detach()

    return guided_smc(lambda denoise: energy_guided_pair(denoise, energy, scale), log_twist, groups=groups,
                      ess_threshold=ess_threshold)


def inpaint_smc(known: Tensor, mask: Tensor, *, groups: int = 1, cg_iters: int = 2, ess_threshold: float = 0.5):
    """:func:`twisted_smc` for a 0/1 ``mask`` (1 = known) with ``known`` values; the output keeps the
    known part exactly. Call the result like a sampler: ``inpaint_smc(known, mask)(D, sigmas, x)``."""
    return twisted_smc(mask_operator(mask), mask * known, 0.0, groups=groups, cg_iters=cg_iters,
                       ess_threshold=ess_threshold, finalize=keep_known(known, mask))
