"""σ grids designed from the model itself: local-error equidistribution (de Boor's principle).

In λ = −log σ the probability-flow ODE reads dx/dλ = D(x, σ) − x, and a p-th order exponential
multistep step of length h commits a local error ≈ C h^{p+1} ‖d^p D/dλ^p‖ (the interpolation error of
D; the linear part is integrated exactly). For n steps over a fixed λ range, the sum of local errors
Σ h_i^{p+1} e(λ_i) is smallest when every step carries the same error, i.e. when the step density is
∝ e(λ)^{1/(p+1)}; the grid points sit at equal quantiles of ∫ e^{1/(p+1)} dλ.

e(λ) is measured once per model with a pilot: a small batch is carried along a fine log-uniform grid
(second-order multistep, ``pilot_steps`` model calls) and ‖d^p D/dλ^p‖ is estimated by finite
differences of the recorded denoised estimates, averaged (RMS) over the batch. A floor keeps a few
points in regions where D barely moves, and the density is smoothed over a λ window so that one
noisy difference cannot attract points. Every grid passes :func:`~sciffusion.common.grids.check_grid`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.grids import check_grid, check_sigma_range


@dataclass(frozen=True)
class GridDesignConfig:
    """Settings of the pilot and of the equidistribution.

    order: the order p the grid is designed for (error density ‖d^p D/dλ^p‖^{1/(p+1)}).
    pilot_steps: fine-grid steps of the pilot (= its model calls).
    floor: density floor as a fraction of the mean density (keeps steps where D is flat).
    smooth: half-width, in λ units, of the moving-average window applied to the density.
    """

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    order: int = 2
    pilot_steps: int = 200
    floor: float = 0.05
    smooth: float = 0.25

    def __post_init__(self) -> None:
        check_sigma_range(self.sigma_min, self.sigma_max)
        if not 1 <= self.order <= 4:
            raise ValueError(f"order: must be in 1..4, got {self.order}")
        if self.pilot_steps < 4 * (self.order + 1):
            raise ValueError(f"pilot_steps: need >= {4 * (self.order + 1)} for order {self.order}, got {self.pilot_steps}")
        if not 0 < self.floor:
            raise ValueError(f"floor: must be > 0, got {self.floor}")
        if self.smooth < 0:
            raise ValueError(f"smooth: must be >= 0, got {self.smooth}")


def pilot_denoised(denoise: DenoiseFn, x_pilot: Tensor, cfg: GridDesignConfig) -> tuple[np.ndarray, np.ndarray]:
    """Carry ``x_pilot`` ([B, ...] at σ_max, float64 recommended) along a log-uniform grid of
    ``pilot_steps`` points with DPM-Solver++(2M) and record the denoised estimates.
    Returns λ at the nodes [P] and D flattened per sample [P, B, F] (numpy float64)."""
    lam = np.linspace(-math.log(cfg.sigma_max), -math.log(cfg.sigma_min), cfg.pilot_steps)
    sig = np.exp(-lam)
    x = x_pilot
    ds: list[Tensor] = []
    d_prev, h_prev = None, None
    for i in range(len(sig)):
        s = torch.full((x.shape[0],), float(sig[i]), dtype=x.dtype, device=x.device)
        d = denoise(x, s)
        ds.append(d.reshape(x.shape[0], -1).double().cpu())
        if i + 1 < len(sig):
            h = lam[i + 1] - lam[i]
            d_eff = d if d_prev is None else (1 + h / (2 * h_prev)) * d - h / (2 * h_prev) * d_prev
            x = math.exp(-h) * x - math.expm1(-h) * d_eff
            d_prev, h_prev = d, h
    return lam, torch.stack(ds).numpy()


def error_density(lam: np.ndarray, denoised: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """RMS over the batch of ‖d^p D/dλ^p‖ (norm over features, divided by sqrt(F)) by p-fold finite
    differences on the (uniform) λ nodes. Returns the midpoint λ of each difference stencil and e."""
    h = lam[1] - lam[0]
    if not np.allclose(np.diff(lam), h):
        raise ValueError("error_density: λ nodes must be uniform")
    diff = np.diff(denoised, n=order, axis=0) / h**order            # [P - p, B, F]
    e = np.sqrt((diff ** 2).mean(axis=(1, 2)))
    centre = lam[: len(lam) - order] + order * h / 2
    return centre, e


def equidistributed_grid(lam: np.ndarray, density: np.ndarray, steps: int, order: int, floor: float = 0.05,
                         smooth: float = 0.25, dtype: torch.dtype = torch.float32) -> Tensor:
    """σ grid of ``steps`` steps from σ = e^{−lam[0]} to e^{−lam[-1]}, then 0, with the positive points at
    equal quantiles of ∫ max(ẽ, floor·mean ẽ)^{1/(p+1)} dλ (ẽ the density smoothed over ±``smooth``).
    The last positive σ is the pilot's σ_min and the step to 0 returns the denoised estimate; so
    ``steps − 1`` points are placed by the density (``steps == 1`` gives [σ_max, 0])."""
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    lam = np.asarray(lam, dtype=np.float64)
    e = np.asarray(density, dtype=np.float64)
    if lam.shape != e.shape or len(lam) < 2 or not (np.diff(lam) > 0).all() or not np.isfinite(e).all():
        raise ValueError("equidistributed_grid: need increasing λ nodes and a finite density of the same length")
    if smooth > 0:
        width = max(1, int(round(smooth / (lam[1] - lam[0]))))
        kernel = np.ones(2 * width + 1) / (2 * width + 1)
        e = np.convolve(np.pad(e, width, mode="edge"), kernel, mode="valid")
    e = np.maximum(e, floor * max(e.mean(), 1e-300))
    w = e ** (1.0 / (order + 1))
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(lam))])
    if steps == 1:
        lam_grid = lam[:1]
    else:
        lam_grid = np.interp(np.linspace(0.0, cum[-1], steps), cum, lam)
    sig = np.exp(-lam_grid)
    sig[0], sig[-1] = math.exp(-lam[0]), math.exp(-lam[-1]) if steps > 1 else sig[-1]
    grid = torch.cat([torch.tensor(sig, dtype=torch.float64).to(dtype), torch.zeros(1, dtype=dtype)])
    return check_grid(grid)


class DesignedGrid:
    """A model's error-equidistributing grid: calibrate once with a pilot batch, then
    ``grid(steps)`` for any step count. ``pilot_nfe`` records the one-off cost."""

    def __init__(self, denoise: DenoiseFn, x_pilot_unit: Tensor, cfg: GridDesignConfig = GridDesignConfig()):
        """``x_pilot_unit``: standard-normal pilot noise [B, ...] (scaled by σ_max here)."""
        self.cfg = cfg
        lam_nodes, ds = pilot_denoised(denoise, cfg.sigma_max * x_pilot_unit, cfg)
        self.pilot_nfe = cfg.pilot_steps
        centre, e = error_density(lam_nodes, ds, cfg.order)
        # extend to the full λ range so the end points are exactly σ_max and σ_min
        self.lam = np.concatenate([[lam_nodes[0]], centre, [lam_nodes[-1]]])
        self.density = np.concatenate([[e[0]], e, [e[-1]]])

    def __call__(self, steps: int, dtype: torch.dtype = torch.float32) -> Tensor:
        return equidistributed_grid(self.lam, self.density, steps, self.cfg.order, self.cfg.floor, self.cfg.smooth,
                                    dtype)
