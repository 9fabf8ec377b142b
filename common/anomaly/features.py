"""The common return type of every anomaly score, and the noise levels they are read at.

An :class:`AnomalyScores` holds, for a batch ``x [B, ...]``:

* ``features [B, F]``: one value per noise level (and per statistic), float64, named by ``names``;
* ``score [B]``: a raw scalar, higher = more anomalous (before any calibration);
* ``nfe``: denoiser forward calls per input (the batch is evaluated together, so a batch costs the
  same number of calls); score functions that also take vector–Jacobian products say so;
* ``map``: an optional dense map, per element with the channel axis averaged out: ``[B, H, W]`` for
  images ``[B, C, H, W]``, ``[B, T, H, W]`` for clips ``[B, C, T, H, W]``, ``[B, d]`` for vectors;
* ``frames``: optional per-frame scores ``[B, T]`` of clips, for scores whose map is not read by its
  mean. :func:`frame_scores` gives them, or else the per-frame mean of a clip map: a residual map
  spreads an anomaly over the pixels it disturbs, so its mean is the frame's error, while a
  position-distance map (PaDiM) marks the anomaly at a few positions among normal ones, so its frame
  score is its largest value, as its input score is (measured on driving, docs/ood.md, ninth round).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

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
    frames: Optional[Tensor] = None

    def __post_init__(self) -> None:
        if self.features.dim() != 2 or self.features.shape[1] != len(self.names):
            raise ValueError(f"features: need [B, {len(self.names)}], got {tuple(self.features.shape)}")
        if self.score.shape != (self.features.shape[0],):
            raise ValueError(f"score: need [{self.features.shape[0]}], got {tuple(self.score.shape)}")
        if self.map is not None and self.map.shape[0] != self.features.shape[0]:
            raise ValueError(f"map: first axis {self.map.shape[0]} != batch {self.features.shape[0]}")
        if self.frames is not None and (self.frames.dim() != 2 or self.frames.shape[0] != self.features.shape[0]):
            raise ValueError(f"frames: need [{self.features.shape[0]}, T], got {tuple(self.frames.shape)}")


def frame_scores(scores: AnomalyScores) -> Optional[Tensor]:
    """Per-frame scores ``[B, T]`` of clips: the score's own ``frames`` when it has them, else the
    per-frame mean of a clip map ``[B, T, H, W]``; None for scores without either (images, vectors)."""
    if scores.frames is not None:
        return scores.frames
    if scores.map is not None and scores.map.dim() == 4:
        return scores.map.flatten(2).mean(-1)
    return None


def concat_scores(parts: Sequence[AnomalyScores]) -> AnomalyScores:
    """Join the features of several scores of one batch side by side: the scalar is the sum of the
    scalars, the NFE the sum of the NFEs, the map the mean of the maps that exist, and the frame scores
    the mean of the :func:`frame_scores` that exist, when some part has its own."""
    if not parts:
        raise ValueError("concat_scores: need at least one score")
    maps = [p.map for p in parts if p.map is not None]
    frames = [f for f in map(frame_scores, parts) if f is not None] if any(p.frames is not None for p in parts) else []
    return AnomalyScores(torch.cat([p.features for p in parts], 1), tuple(n for p in parts for n in p.names),
                         torch.stack([p.score for p in parts]).sum(0), sum(p.nfe for p in parts),
                         torch.stack(maps).mean(0) if maps else None,
                         torch.stack(frames).mean(0) if frames else None)


def cat_batches(parts: Sequence[AnomalyScores]) -> AnomalyScores:
    """Stack the scores of consecutive batches of one input set along the batch axis (same names)."""
    if not parts:
        raise ValueError("cat_batches: need at least one batch")
    if len({p.names for p in parts}) != 1:
        raise ValueError("cat_batches: batches have different feature names")
    maps, frames = [p.map for p in parts], [p.frames for p in parts]
    return AnomalyScores(torch.cat([p.features for p in parts]), parts[0].names, torch.cat([p.score for p in parts]),
                         max(p.nfe for p in parts), torch.cat(maps) if all(m is not None for m in maps) else None,
                         torch.cat(frames) if all(f is not None for f in frames) else None)


def score_in_batches(x: Tensor, batch_size: int, score: Callable[[Tensor], AnomalyScores],
                     on_batch: Optional[Callable[[int], None]] = None) -> AnomalyScores:
    """``score`` of ``x [N, ...]`` in consecutive batches of at most ``batch_size``, stacked
    (:func:`cat_batches`); ``on_batch(n)`` after each batch of n inputs."""
    parts = []
    for chunk in torch.split(x, batch_size):
        parts.append(score(chunk))
        if on_batch is not None:
            on_batch(len(chunk))
    return cat_batches(parts)


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


__all__ = ["AnomalyScores", "cat_batches", "concat_scores", "dense", "flat_mean", "flat_norm", "frame_scores",
           "noise_levels", "score_in_batches"]
