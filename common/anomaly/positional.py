"""Per-position Gaussians of shallow denoiser features: where in the frame an input departs from normal.

PaDiM (Defard et al. 2021, "PaDiM: a patch distribution modeling framework for anomaly detection and
localization", anomalib's ``Padim``) models every position of an aligned input on its own: a Gaussian
over the feature vector found at that position in the normal training inputs, and the anomaly map as the
Mahalanobis distance of each position's vector to its Gaussian. It suits inputs whose layout is fixed
(a camera that follows a car, a fixed camera, centred objects), where *what is normal at this place*
matters: a vehicle a few pixels long right in front of the ego car, a red wreck on the road. A memory of
whole-input embeddings (:mod:`~sciffusion.common.anomaly.embedding`) dilutes such a change over the
whole input; a shared patch bank ignores where the patch was.

Features: the output of the first encoder level of the denoiser
(:func:`~sciffusion.common.anomaly.networks.shallow_layer`: full resolution, before any attention mixes
positions), read in the same clean-input calls as the whole-input embeddings (no extra model call),
average-pooled 2× until at most :data:`MAX_POSITIONS` positions remain. Per level σ_l and position p:
mean μ and covariance Σ over the normal inputs, regularised by ``reg`` × (the mean variance of that level)
on the diagonal so that the scale of the activations does not matter. The feature of an input at level
l is the largest distance over positions, √((f − μ)ᵀ Σ⁻¹ (f − μ)) (anomalib's image score is the map's
maximum too).

A clip network that keeps the frames apart (the video domain's space-time U-Net; its first level is a
per-frame map ``[B, D, T, H, W]``) gives one vector per frame and position: the frames of a clip are
then samples of the same per-position Gaussian (:func:`frames_as_inputs`), the feature is the largest
distance over frames and positions, and the distances make a per-frame map (where and when).

Measured (docs/ood.md, fifth round): on the driving clips, the same 32-pixel frame-stack network scored
AUROC 0.62 with whole-input distances and 0.81 with the largest position distance; PaDiM on the pooled
pixels themselves gave 0.79.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

MAX_POSITIONS = 1024
"""Feature maps are average-pooled 2× over their spatial axes until they have at most this many positions
(the stored statistics are positions × D² values per level)."""

POSITION_REG = 0.01
"""Ridge added to each position's covariance, as a fraction of the level's mean variance."""


def pooled_grid(height: int, width: int, max_positions: int = MAX_POSITIONS) -> tuple[int, int]:
    """The spatial grid (h, w) that :func:`pooled_positions` leaves of an ``height`` × ``width`` map:
    halved while h·w > ``max_positions`` and both are even."""
    h, w = int(height), int(width)
    while h * w > max_positions and h % 2 == 0 and w % 2 == 0:
        h, w = h // 2, w // 2
    return h, w


def pooled_positions(feature_map: Tensor, max_positions: int = MAX_POSITIONS) -> Tensor:
    """Feature map → positions, float32, the spatial axes (the last two) average-pooled 2× to
    :func:`pooled_grid`: ``[B, D, H, W]`` → ``[B, D, P]``; a clip network's per-frame map
    ``[B, D, T, H, W]`` → ``[B, D, T, P]`` (the frames are kept: each frame is a sample of the same
    per-position Gaussians, :func:`frames_as_inputs`)."""
    if feature_map.dim() not in (4, 5):
        raise ValueError(f"feature map: need [B, D, H, W] or [B, D, T, H, W], got {tuple(feature_map.shape)}")
    f = feature_map.float()
    grid = pooled_grid(*f.shape[-2:], max_positions=max_positions)
    if grid != tuple(f.shape[-2:]):
        lead = f.shape[:-2]
        f = nn.functional.avg_pool2d(f.reshape(-1, 1, *f.shape[-2:]), f.shape[-1] // grid[1]).reshape(*lead, *grid)
    return f.flatten(-2)


def pixel_neighbourhoods(x: Tensor, max_positions: int = MAX_POSITIONS, motion: bool = True) -> Tensor:
    """The inputs' own pixels as a per-position feature map, with no network (Kratz & Nishino 2009 model each
    place of a fixed camera by its local spatio-temporal pattern): images ``[B, C, H, W]`` or clips
    ``[B, C, T, H, W]`` average-pooled 2× to :func:`pooled_grid`, then at each position its 3 × 3
    neighbourhood (``C · 9`` values, zero outside the frame), and for clips with ``motion`` also the change of
    that neighbourhood since the frame before. Returns ``[B, D, P]`` for images, ``[B, D, T − 1, P]`` for
    clips with ``motion`` (the first frame has no "before"; D = 2 · C · 9), ``[B, C · 9, T, P]`` without."""
    if x.dim() not in (4, 5):
        raise ValueError(f"pixels: need [B, C, H, W] or [B, C, T, H, W], got {tuple(x.shape)}")
    clip = x.dim() == 5
    frames = x.float().transpose(1, 2) if clip else x.float()[:, None]  # [B, T, C, H, W]
    b, t, c, h, w = frames.shape
    flat = frames.reshape(b * t, c, h, w)
    grid = pooled_grid(h, w, max_positions)
    if grid != (h, w):
        flat = nn.functional.avg_pool2d(flat, h // grid[0])
    near = nn.functional.unfold(flat, 3, padding=1).reshape(b, t, c * 9, grid[0] * grid[1])  # [B, T, C·9, P]
    if not clip:
        return near[:, 0]
    if motion:
        if t < 2:
            raise ValueError(f"pixels: motion needs clips of >= 2 frames, got {t}")
        near = torch.cat([near[:, 1:], near[:, 1:] - near[:, :-1]], 2)
    return near.transpose(1, 2)


def frames_as_inputs(maps: Tensor) -> Tensor:
    """Per-frame position maps ``[B, L, D, T, P]`` → ``[B·T, L, D, P]`` (input-major): the frames of a
    clip are samples of one Gaussian per position (the scene's statistics do not depend on the frame's
    index in the clip: a camera that follows a car, a fixed camera). ``[B, L, D, P]`` is returned as is."""
    if maps.dim() == 4:
        return maps
    if maps.dim() != 5:
        raise ValueError(f"position maps: need [B, L, D, P] or [B, L, D, T, P], got {tuple(maps.shape)}")
    b, levels, d, t, p = maps.shape
    return maps.permute(0, 3, 1, 2, 4).reshape(b * t, levels, d, p)


@dataclass(frozen=True)
class PositionGaussians:
    """``mean [L, P, D]`` and ``precision [L, P, D, D]`` (the inverse regularised covariance), float32 on
    the CPU: one Gaussian per level L and position P over D feature channels."""

    mean: Tensor
    precision: Tensor

    def __post_init__(self) -> None:
        if self.mean.dim() != 3 or self.precision.shape != (*self.mean.shape, self.mean.shape[-1]):
            raise ValueError(f"position Gaussians: mean [L, P, D] and precision [L, P, D, D], got "
                             f"{tuple(self.mean.shape)} and {tuple(self.precision.shape)}")

    def to_dict(self) -> dict[str, Tensor]:
        """The means and the upper triangle of each precision, row by row (``precision_upper [L, P,
        D(D+1)/2]``): the precisions are symmetric (:meth:`PositionStatistics.finish`), so a file holds half of
        each, and :meth:`from_saved` restores them exactly."""
        rows, cols = torch.triu_indices(self.dims, self.dims)
        return {"mean": self.mean, "precision_upper": self.precision[..., rows, cols].contiguous()}

    @property
    def dims(self) -> int:
        """D, the feature channels of each Gaussian."""
        return int(self.mean.shape[-1])

    @classmethod
    def from_saved(cls, saved: Any) -> Optional["PositionGaussians"]:
        """Gaussians from :meth:`to_dict` (or, from files written before session 36, the full ``precision``)."""
        if saved is None or isinstance(saved, PositionGaussians):
            return saved
        if "precision_upper" not in saved:
            return cls(saved["mean"], saved["precision"])
        mean, upper = saved["mean"], saved["precision_upper"]
        dims = int(mean.shape[-1])
        rows, cols = torch.triu_indices(dims, dims)
        if upper.shape != (*mean.shape[:-1], len(rows)):
            raise ValueError(f"position Gaussians: precision_upper [L, P, {len(rows)}] for means of shape "
                             f"{tuple(mean.shape)}, got {tuple(upper.shape)}")
        precision = upper.new_zeros(*mean.shape, dims)
        precision[..., rows, cols] = upper
        precision[..., cols, rows] = upper
        return cls(mean, precision)


class PositionStatistics:
    """Running sums over batches of pooled maps ``[B, L, D, P]`` → :class:`PositionGaussians` (float64
    accumulation; every position needs at least 2 inputs)."""

    def __init__(self) -> None:
        self.n, self.total, self.outer = 0, None, None

    def add(self, maps: Tensor) -> None:
        if maps.dim() != 4:
            raise ValueError(f"maps: need [B, L, D, P], got {tuple(maps.shape)}")
        m = maps.double().permute(1, 3, 0, 2)  # [L, P, B, D]
        total, outer = m.sum(2), m.transpose(2, 3) @ m
        if self.total is None:
            self.total, self.outer = total, outer
        elif total.shape != self.total.shape:
            raise ValueError(f"maps: batches differ in shape, {tuple(total.shape)} vs {tuple(self.total.shape)}")
        else:
            self.total, self.outer = self.total + total, self.outer + outer
        self.n += len(maps)

    def finish(self, reg: float = POSITION_REG) -> PositionGaussians:
        if self.n < 2:
            raise ValueError(f"position statistics: need >= 2 inputs, got {self.n}")
        mean = self.total / self.n  # [L, P, D]
        cov = (self.outer - self.n * mean[..., :, None] * mean[..., None, :]) / (self.n - 1)
        dims = cov.shape[-1]
        scale = torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(0).mean((1, 2))  # [L], the mean variance
        ridge = (reg * scale.clamp_min(1e-12))[:, None, None, None] * torch.eye(dims, dtype=cov.dtype)
        precision = torch.linalg.inv(cov + ridge)
        return PositionGaussians(mean.float(), (0.5 * (precision + precision.transpose(-2, -1))).float())  # symmetric


def mahalanobis_map(maps: Tensor, gaussians: PositionGaussians) -> Tensor:
    """Distance of each position's vector to its Gaussian, ``maps [B, L, D, P]`` → ``[B, L, P]``."""
    if maps.dim() != 4 or maps.shape[1:] != (gaussians.mean.shape[0], gaussians.mean.shape[2],
                                             gaussians.mean.shape[1]):
        raise ValueError(f"position statistics: maps [B, L, D, P] = [B, {gaussians.mean.shape[0]}, "
                         f"{gaussians.mean.shape[2]}, {gaussians.mean.shape[1]}] expected, got {tuple(maps.shape)}")
    centred = maps.float().permute(1, 3, 0, 2) - gaussians.mean.to(maps.device)[:, :, None]  # [L, P, B, D]
    sq = torch.einsum("lpbd,lpde,lpbe->lpb", centred, gaussians.precision.to(maps.device), centred)
    return sq.clamp_min(0).sqrt().permute(2, 0, 1)


__all__ = ["MAX_POSITIONS", "POSITION_REG", "PositionGaussians", "PositionStatistics", "frames_as_inputs",
           "mahalanobis_map", "pixel_neighbourhoods", "pooled_grid", "pooled_positions"]
