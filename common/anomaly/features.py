"""The common return type of every anomaly score, and the noise levels they are read at.

An :class:`AnomalyScores` holds, for a batch ``x [B, ...]``:

* ``features [B, F]``: one value per noise level (and per statistic), float64, named by ``names``;
* ``score [B]``: a raw scalar, higher = more anomalous (before any calibration);
* ``nfe``: denoiser forward calls per input (the batch is evaluated together, so a batch costs the
  same number of calls); score functions that also take vector–Jacobian products say so;
* ``map``: an optional dense map, per element with the channel axis averaged out: ``[B, H, W]`` for
  images ``[B, C, H, W]``, ``[B, T, H, W]`` for clips ``[B, C, T, H, W]``, ``[B, d]`` for vectors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor

from sciffusion.common.grids import log_linear_grid


@dataclass(frozen=True)
class AnomalyScores:
    """Per-level features, scalar score, model calls per input and an optional dense map (module docstring)."""

    features: Tensor
    names: tuple[str, ...]
    score: Tensor
    nfe: int
    map: Optional[Tensor] = None

    def __post_init__(self) -> None:
        if self.features.dim() != 2 or self.features.shape[1] != len(self.names):
            raise ValueError(f"features: need [B, {len(self.names)}], got {tuple(self.features.shape)}")
        if self.score.shape != (self.features.shape[0],):
            raise ValueError(f"score: need [{self.features.shape[0]}], got {tuple(self.score.shape)}")
        if self.map is not None and self.map.shape[0] != self.features.shape[0]:
            raise ValueError(f"map: first axis {self.map.shape[0]} != batch {self.features.shape[0]}")


def concat_scores(parts: Sequence[AnomalyScores]) -> AnomalyScores:
    """Join the features of several scores of one batch side by side: the scalar is the sum of the
    scalars, the NFE the sum of the NFEs, the map the mean of the maps that exist."""
    if not parts:
        raise ValueError("concat_scores: need at least one score")
    maps = [p.map for p in parts if p.map is not None]
    return AnomalyScores(torch.cat([p.features for p in parts], 1), tuple(n for p in parts for n in p.names),
                         torch.stack([p.score for p in parts]).sum(0), sum(p.nfe for p in parts),
                         torch.stack(maps).mean(0) if maps else None)


def cat_batches(parts: Sequence[AnomalyScores]) -> AnomalyScores:
    """Stack the scores of consecutive batches of one input set along the batch axis (same names)."""
    if not parts:
        raise ValueError("cat_batches: need at least one batch")
    if len({p.names for p in parts}) != 1:
        raise ValueError("cat_batches: batches have different feature names")
    maps = [p.map for p in parts]
    return AnomalyScores(torch.cat([p.features for p in parts]), parts[0].names, torch.cat([p.score for p in parts]),
                         max(p.nfe for p in parts), torch.cat(maps) if all(m is not None for m in maps) else None)


def noise_levels(n: int, sigma_min: float, sigma_max: float) -> Tensor:
    """``n`` noise levels σ (data units), log-spaced and increasing from σ_min to σ_max, ``[n]`` float32."""
    return log_linear_grid(n, sigma_min, sigma_max)[:-1].flip(0)


def dense(per_element: Tensor) -> Tensor:
    """A per-element map of shape x ``[B, C, ...]`` → ``[B, ...]`` (channel mean); ``[B, d]`` stays."""
    return per_element.mean(1) if per_element.dim() >= 3 else per_element


def flat_norm(v: Tensor) -> Tensor:
    """Euclidean norm over the trailing dims, ``[B, ...]`` → ``[B]``."""
    return v.reshape(len(v), -1).norm(dim=1)


def flat_mean(v: Tensor) -> Tensor:
    """Mean over the trailing dims, ``[B, ...]`` → ``[B]``."""
    return v.reshape(len(v), -1).mean(1)


__all__ = ["AnomalyScores", "cat_batches", "concat_scores", "dense", "flat_mean", "flat_norm", "noise_levels"]
