"""Benchmark targets with an exact denoiser: a 1-D and a 64-D isotropic Gaussian mixture.

σ-space (variance exploding / EDM): x = x0 + σ ε. The exact denoiser D(x, σ) = E[x0 | x] is the
responsibility-weighted posterior mean, computed in float64 whatever the state's dtype.

- ``gmm1d``: 0.3 N(−2, 0.5²) + 0.7 N(2, 0.5²); scored by W1 against the exact CDF.
- ``gmm64``: 8 components in R^64, std 0.3, means of norm 3 (seed 0), weights in [0.5, 1.5]
  normalised; scored by sliced W1 over 256 fixed directions (seed 7) against exact samples (seed 99).

Same targets, seeds and metrics as ``/work/shared/reference/peer_samplers.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sciffusion.common.analytic import GaussianMixture, bimodal_1d, wasserstein1_1d

SEED_REF = 99
SEED_DIRECTIONS = 7
N_DIRECTIONS = 256


def make_targets() -> dict[str, GaussianMixture]:
    """The two benchmark targets, ``gmm1d`` and ``gmm64``."""
    g1 = bimodal_1d()
    g = torch.Generator().manual_seed(0)
    k, d = 8, 64
    means = torch.randn(k, d, generator=g, dtype=torch.float64)
    means = 3.0 * means / means.norm(dim=1, keepdim=True)
    w = 0.5 + torch.rand(k, generator=g, dtype=torch.float64)
    g64 = GaussianMixture(w / w.sum(), means, torch.full((k,), 0.3, dtype=torch.float64))
    return {"gmm1d": g1, "gmm64": g64}


W1_GRID_POINTS = 1_000_001


@dataclass
class W1Scorer:
    """W1 (1-D: :func:`sciffusion.common.analytic.wasserstein1_1d` against the exact CDF on
    10^6 + 1 points) or sliced W1 (d > 1: mean over 256 fixed unit directions of the 1-D W1 between
    sorted projections of ``n`` samples and ``n`` exact samples). Returns nan when any sample is
    non-finite."""

    mixture: GaussianMixture
    n: int

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ValueError(f"scorer: need n >= 2 samples, got {self.n}")
        if self.mixture.dim > 1:
            g = torch.Generator().manual_seed(SEED_DIRECTIONS)
            dirs = torch.randn(N_DIRECTIONS, self.mixture.dim, generator=g, dtype=torch.float64)
            self._dirs = dirs / dirs.norm(dim=1, keepdim=True)
            exact = self.mixture.sample(self.n, torch.Generator().manual_seed(SEED_REF))
            self._ref_proj = torch.sort(exact @ self._dirs.T, dim=0).values

    def __call__(self, x: Tensor) -> float:
        x = torch.as_tensor(x).double().reshape(self.n, -1)
        if not torch.isfinite(x).all():
            return float("nan")
        if self.mixture.dim == 1:
            return wasserstein1_1d(x[:, 0], self.mixture, grid_points=W1_GRID_POINTS)
        proj = torch.sort(x @ self._dirs.T, dim=0).values
        return (proj - self._ref_proj).abs().mean().item()


def ode_rmse(x: Tensor, x_ref: Tensor) -> float:
    """RMS per coordinate of x − x_ref (float64)."""
    return (x.double() - x_ref.double()).pow(2).mean().sqrt().item()
