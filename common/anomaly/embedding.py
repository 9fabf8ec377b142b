"""Feature-bank anomaly scores: the denoiser's own activations as a representation, nearest neighbours
among those of normal training inputs as the score.

A denoiser trained on normal data learns features of that data (Xiang et al. 2023, "Denoising diffusion
autoencoders are unified self-supervised learners": the activations of a diffusion U-Net, read at a
moderate noise level, are linearly separable representations). We read them on the **clean** input,
with the network conditioned on a level σ (no noise drawn: the score is deterministic), at the layer
:func:`~sciffusion.common.anomaly.networks.feature_layer` names (the U-Net's bottleneck), flatten and
L2-normalise them per level, and compare with a memory bank of the same embeddings of normal training
inputs, as PatchCore does with pretrained features (Roth et al. 2022): the feature of level l is the mean
Euclidean distance between unit vectors (= √(2 − 2 cos)) to the ``k`` nearest bank entries. Higher =
farther from everything normal. NFE = number of levels (one network call each).

When the layer's output is a feature map ``[B, C, *S]`` (S spatial, or frames × spatial), each position
is also a *patch* embedding, as in PatchCore: the map is averaged over 3-wide neighbourhoods, each
position's C-vector is L2-normalised, and a second bank holds a random subset of the normal inputs'
patches. The patch feature of level l is the mean, over the ``patch_top`` positions farthest from the
bank, of each position's distance to its nearest bank patch: an anomaly confined to a few positions
(one car, one digit) moves it while it barely moves the whole-input distance. Same model calls.

The map (for images, and for clips under a network that mixes the frames) is the σ-scaled denoising
residual ((D(x, σ) − x)/σ)² of the same calls, channel-averaged: where the denoiser would change the input. Not the nearest-patch distances: the
U-Net's bottleneck follows a global self-attention layer, so a defect moves every position and the
most-moved one need not be where the defect is (a 4×4 defect on 16×16 images peaked in a corner; the
residual peaked inside the defect).

With a ``shallow`` layer (:func:`~sciffusion.common.anomaly.networks.shallow_layer`), the same calls
also read the first encoder level's map for per-position Gaussians
(:mod:`~sciffusion.common.anomaly.positional`, PaDiM-style), kept in the bank as ``positions``: the
feature of level l is the largest Mahalanobis distance over positions. When that layer keeps the frames
of a clip apart (``[B, D, T, H, W]``), the frames share the Gaussians, the feature is the largest
distance over frames and positions, and the map is the distances themselves, averaged over levels and
upsampled to the frames (``[B, T, H, W]``, in Mahalanobis units): PaDiM's map, per frame.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.anomaly.features import AnomalyScores, dense
from sciffusion.common.anomaly.positional import (PositionGaussians, PositionStatistics, frames_as_inputs,
                                                  mahalanobis_map, pixel_neighbourhoods, pooled_grid,
                                                  pooled_positions)
from sciffusion.common.denoisers import DenoiseFn

PIXEL_FEATURE = "pos_pixels"
"""The feature name of the largest pixel-neighbourhood distance (:func:`pixel_scores`)."""


@contextmanager
def capture_output(module: nn.Module) -> Iterator[dict[str, Tensor]]:
    """Within the block, ``captured["out"]`` is the last output of ``module`` (a forward hook)."""
    captured: dict[str, Tensor] = {}
    handle = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("out", out))
    try:
        yield captured
    finally:
        handle.remove()


@dataclass(frozen=True)
class FeatureBank:
    """Embeddings of normal inputs: ``inputs [N, L, F]`` (one unit vector per input and level; None when
    the detector scores no whole-input distances) and
    ``patches [M, L, C]`` (unit patch vectors, module docstring; None when the layer has no feature map
    or the detector keeps no patches), both float16 on the CPU; ``positions``: the per-position
    Gaussians of the shallow layer (None: not kept); ``pixels``: per-position Gaussians of the inputs' own
    pixel neighbourhoods (:func:`~sciffusion.common.anomaly.positional.pixel_neighbourhoods`; None: not kept)."""

    inputs: Optional[Tensor]
    patches: Optional[Tensor] = None
    positions: Optional[PositionGaussians] = None
    pixels: Optional[PositionGaussians] = None

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "patches": self.patches,
                "positions": None if self.positions is None else self.positions.to_dict(),
                "pixels": None if self.pixels is None else self.pixels.to_dict()}

    @classmethod
    def from_saved(cls, saved: Any) -> Optional["FeatureBank"]:
        """From :meth:`to_dict` or a bare ``[N, L, F]`` tensor (detectors saved before the patch bank)."""
        if saved is None or isinstance(saved, FeatureBank):
            return saved
        if isinstance(saved, Tensor):
            return cls(saved)
        return cls(saved["inputs"], saved.get("patches"), PositionGaussians.from_saved(saved.get("positions")),
                   PositionGaussians.from_saved(saved.get("pixels")))


def patch_embeddings(feature_map: Tensor) -> Optional[Tensor]:
    """Unit patch vectors ``[B, P, C]`` of a feature map ``[B, C, *S]`` (S: 2 or 3 axes; P = prod(S)),
    each position averaged with its 3-wide neighbourhood first; None for ``[B, F]`` outputs."""
    if feature_map.dim() not in (4, 5):
        return None
    pool = nn.functional.avg_pool2d if feature_map.dim() == 4 else nn.functional.avg_pool3d
    pad = [1, 1] * (feature_map.dim() - 2)  # padded by hand: the pools refuse axes shorter than the kernel
    values = nn.functional.pad(feature_map.float(), pad)
    counts = nn.functional.pad(torch.ones_like(feature_map[:1, :1], dtype=torch.float32), pad)
    pooled = pool(values, 3, stride=1) / pool(counts, 3, stride=1)
    return nn.functional.normalize(pooled.flatten(2).transpose(1, 2), dim=2)


@dataclass(frozen=True)
class Embedding:
    """What :func:`embed` reads from one batch ``x [B, ...]`` at L levels: ``inputs [B, L, F]`` (unit
    vectors), ``patches [B, L, P, C]`` (None unless asked for and the layer gives a map), ``residual``
    (shape of x, summed over levels) and ``positions [B, L, D, P]``, or ``[B, L, D, T, P]`` for a
    per-frame map (the shallow layer's pooled map; None without a shallow layer), on the spatial grid
    ``position_grid`` (h, w)."""

    inputs: Tensor
    patches: Optional[Tensor]
    residual: Tensor
    positions: Optional[Tensor] = None
    position_grid: Optional[tuple[int, int]] = None


@torch.no_grad()
def embed(denoise: DenoiseFn, layer: nn.Module, x: Tensor, sigmas: Tensor,
          with_patches: bool = False, shallow: Optional[nn.Module] = None) -> Embedding:
    """Unit-norm embeddings ``[B, L, F]`` of clean inputs ``x [B, ...]`` at levels ``sigmas [L]`` (the
    output of ``layer`` while ``denoise(x, σ_l)`` runs, flattened), with ``with_patches`` its patch
    embeddings ``[B, L, P, C]`` (:func:`patch_embeddings`; None when the output is no feature map),
    the residual map (module docstring) summed over levels, shape of x, and with ``shallow`` that
    layer's output pooled to positions (:func:`~sciffusion.common.anomaly.positional.pooled_positions`)."""
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"x: need shape [B, ...] with B >= 1, got {tuple(x.shape)}")
    if sigmas.dim() != 1 or len(sigmas) == 0 or (sigmas <= 0).any():
        raise ValueError("sigmas: need a non-empty 1-D tensor of noise levels > 0")
    levels, patches, positions, residual, grid = [], [], [], torch.zeros_like(x), None
    early_hook = capture_output(shallow) if shallow is not None else nullcontext({})
    with capture_output(layer) as captured, early_hook as early:
        for sigma in sigmas:
            s = sigma.to(x.dtype).to(x.device).expand(len(x))
            denoised = denoise(x, s)
            if "out" not in captured or (shallow is not None and "out" not in early):
                raise ValueError("feature layer: the network never ran it")
            out = captured.pop("out")
            levels.append(nn.functional.normalize(out.reshape(len(x), -1).float(), dim=1))
            patches.append(patch_embeddings(out) if with_patches else None)
            if shallow is not None:
                early_map = early.pop("out")
                grid = pooled_grid(*early_map.shape[-2:])
                positions.append(pooled_positions(early_map))
            residual += ((denoised - x) / float(sigma)) ** 2
    patch = None if any(p is None for p in patches) else torch.stack(patches, 1)
    return Embedding(torch.stack(levels, 1), patch, residual, torch.stack(positions, 1) if positions else None, grid)



def knn_distances(queries: Tensor, bank: Tensor, k: int, chunk: int = 1024) -> Tensor:
    """Mean distance of each query ``[B, L, F]`` to its ``k`` nearest bank entries ``[N, L, F]``, per
    level: ``[B, L]`` float64. ``k`` is capped at N."""
    if queries.dim() != 3 or bank.dim() != 3 or queries.shape[1:] != bank.shape[1:]:
        raise ValueError(f"bank: embeddings {tuple(bank.shape[1:])} do not match the inputs' "
                         f"{tuple(queries.shape[1:])} (a detector fitted on other inputs?)")
    k = min(k, len(bank))
    out = torch.empty(len(queries), queries.shape[1], dtype=torch.float64)
    for level in range(queries.shape[1]):
        b = bank[:, level].float().to(queries.device)
        for start in range(0, len(queries), chunk):
            q = queries[start:start + chunk, level].float()
            d = torch.cdist(q, b)
            out[start:start + chunk, level] = d.topk(k, dim=1, largest=False).values.mean(1).double().cpu()
    return out


def patch_distances(queries: Tensor, bank: Tensor, top: int, chunk: int = 1024) -> Tensor:
    """``[B, L]`` float64: per input and level, the mean over its ``top`` farthest positions of each
    position's distance to its nearest bank patch (:func:`knn_distances` with k = 1); queries
    ``[B, L, P, C]``, bank ``[M, L, C]``. ``top`` is capped at P."""
    if queries.dim() != 4 or bank.dim() != 3 or queries.shape[1] != bank.shape[1] or queries.shape[3] != bank.shape[2]:
        raise ValueError(f"patch bank: patches {tuple(bank.shape[1:])} do not match the inputs' "
                         f"{(queries.shape[1], queries.shape[3])} (a detector fitted on other inputs?)")
    b, levels, p, c = queries.shape
    positions = queries.transpose(1, 2).reshape(b * p, levels, c)
    nearest = knn_distances(positions, bank, k=1, chunk=chunk).reshape(b, p, levels)
    return nearest.topk(min(top, p), dim=1).values.mean(1)


def feature_knn(denoise: DenoiseFn, layer: nn.Module, x: Tensor, sigmas: Tensor, bank: FeatureBank,
                k: int = 5, patch_top: int = 4, shallow: Optional[nn.Module] = None) -> AnomalyScores:
    """Feature-bank scores of ``x [B, ...]`` (module docstring): features ``[B, L]`` (kNN distance per
    level), then, when the bank has patches, ``[B, L]`` more (:func:`patch_distances`), then, when it
    has position Gaussians (read from the ``shallow`` layer), ``[B, L]`` more (the largest Mahalanobis
    distance over positions, and frames for a per-frame map); the kNN part only when the bank keeps
    whole-input embeddings; scalar = the mean of all; NFE = L; map = mean residual map over levels, or for
    a per-frame shallow map the position distances (module docstring), and then the frame scores
    ``[B, T]`` are each frame's largest position distance (mean over levels), the map's per-frame max."""
    if bank.inputs is None and bank.patches is None and bank.positions is None and bank.pixels is None:
        raise ValueError("feature bank: holds no whole-input embeddings, patches or position statistics")
    if bank.positions is not None and shallow is None:
        raise ValueError("position statistics: the bank has them, but no shallow layer was given")
    e = embed(denoise, layer, x, sigmas, with_patches=bank.patches is not None,
              shallow=shallow if bank.positions is not None else None)
    parts, names = [], []
    if bank.inputs is not None:
        parts.append(knn_distances(e.inputs, bank.inputs, k))
        names += [f"knn_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas)]
    if bank.patches is not None:
        if e.patches is None:
            raise ValueError("patch bank: the feature layer gives no feature map for these inputs")
        parts.append(patch_distances(e.patches, bank.patches, patch_top))
        names += [f"patch_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas)]
    dense_map, frame_max = dense(e.residual / len(sigmas)), None
    if bank.positions is not None:
        distances = mahalanobis_map(frames_as_inputs(e.positions), bank.positions)  # [B·T, L, P]
        frames = e.positions.shape[3] if e.positions.dim() == 5 else 1
        distances = distances.reshape(len(x), frames, *distances.shape[1:])  # [B, T, L, P]
        parts.append(distances.amax((1, 3)).double())
        names += [f"pos_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas)]
        if e.positions.dim() == 5:
            dense_map = position_map(distances, e.position_grid, tuple(x.shape[-2:]))
            frame_max = distances.float().mean(2).amax(-1)  # [B, T]: the largest value of each frame's map
    if bank.pixels is not None:
        pixels = pixel_scores(x, bank.pixels)
        parts.append(pixels.features)
        names += pixels.names
        if x.dim() == 5 and frame_max is None:  # no per-frame map of the network: the pixels' one
            dense_map, frame_max = pixels.map, pixels.frames
    features = torch.cat(parts, 1)
    return AnomalyScores(features, tuple(names), features.mean(1), len(sigmas), dense_map, frame_max)


def pixel_neighbourhood_maps(x: Tensor) -> Tensor:
    """The inputs' pixel neighbourhoods as position maps for :class:`PositionStatistics`, ``[B·T', 1, D, P]``
    (clips of >= 2 frames with their motion, :func:`~sciffusion.common.anomaly.positional.pixel_neighbourhoods`)."""
    return frames_as_inputs(pixel_neighbourhoods(x.cpu(), motion=x.dim() == 5 and x.shape[2] > 1)[:, None])


def pixel_gaussians(x: Tensor, batch_size: int = 128) -> PositionGaussians:
    """The per-position Gaussians of the pixel neighbourhoods of normal inputs ``x [N, C, (T,) H, W]``
    (every frame of a clip a sample of the same Gaussians), accumulated ``batch_size`` inputs at a time."""
    stats = PositionStatistics()
    for chunk in torch.split(x, batch_size):
        stats.add(pixel_neighbourhood_maps(chunk))
    return stats.finish()


def pixel_distances(x: Tensor, gaussians: PositionGaussians) -> Tensor:
    """Mahalanobis distance of each place's pixel neighbourhood to its Gaussian: ``x [B, C, (T,) H, W]`` →
    ``[B, T, P]`` (1 frame for images); with motion (clips of >= 2 frames) frame 0 has no change of its own
    and takes frame 1's distances."""
    distances = mahalanobis_map(pixel_neighbourhood_maps(x), gaussians)[:, 0]  # [B·T', P]
    distances = distances.reshape(len(x), -1, distances.shape[-1])
    if x.dim() == 5 and distances.shape[1] == x.shape[2] - 1:
        distances = torch.cat([distances[:, :1], distances], 1)
    return distances


def position_map(distances: Tensor, grid: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """Per-frame position distances ``[B, T, L, P]`` (P = h·w on ``grid``) → their mean over levels,
    bilinearly upsampled to the frames' ``size`` (H, W): ``[B, T, H, W]`` float32, Mahalanobis units."""
    b, t, _, p = distances.shape
    if grid[0] * grid[1] != p:
        raise ValueError(f"position grid {grid} does not hold {p} positions")
    coarse = distances.float().mean(2).reshape(b * t, 1, *grid)
    return nn.functional.interpolate(coarse, size=size, mode="bilinear", align_corners=False).reshape(b, t, *size)


def pixel_scores(x: Tensor, gaussians: PositionGaussians) -> AnomalyScores:
    """Scores of ``x [B, C, H, W]`` or ``[B, C, T, H, W]`` against per-position pixel Gaussians: one
    feature (the largest Mahalanobis distance over places and frames), NFE 0, the map ``[B, H, W]`` or
    ``[B, T, H, W]`` (distances per place, bilinearly upsampled; Mahalanobis units), and for clips the
    frame scores ``[B, T]`` (each frame's peak)."""
    distances = pixel_distances(x, gaussians)  # [B, T, P] (T = 1 for images)
    peak = distances.amax((1, 2)).double()
    size = tuple(x.shape[-2:])
    per_place = position_map(distances[:, :, None], pooled_grid(*size), size)  # [B, T, H, W]
    clips = x.dim() == 5
    return AnomalyScores(peak[:, None], (PIXEL_FEATURE,), peak, 0, per_place if clips else per_place[:, 0],
                         distances.float().amax(-1) if clips else None)


def build_bank(denoise: DenoiseFn, layer: nn.Module, x: Tensor, sigmas: Tensor, batch_size: int = 128,
               size: Optional[int] = None, patch_size: int = 0, seed: int = 0,
               shallow: Optional[nn.Module] = None, whole: bool = True, pixels: bool = False) -> FeatureBank:
    """The memory bank of normal inputs ``x [N, ...]``: at most ``size`` of them (a seeded random
    subset) when given, and, with ``patch_size`` > 0 and a feature map, about ``patch_size`` of their
    patches (each batch gives its share, a seeded random draw of its positions); with a ``shallow``
    layer, the per-position Gaussians of the same inputs; with ``pixels``, those of their pixel
    neighbourhoods (no model call); ``whole`` False keeps no whole-input embeddings (ValueError when nothing
    would be kept)."""
    g = torch.Generator().manual_seed(seed)
    if size is not None and len(x) > size:
        x = x[torch.randperm(len(x), generator=g)[:size]]
    device = next(layer.parameters()).device if any(True for _ in layer.parameters()) else x.device
    inputs, patches, stats = [], [], PositionStatistics()
    for chunk in torch.split(x, batch_size):
        e = embed(denoise, layer, chunk.to(device), sigmas, with_patches=patch_size > 0, shallow=shallow)
        if whole:
            inputs.append(e.inputs.half().cpu())
        if e.patches is not None:
            patch = e.patches
            flat = patch.transpose(1, 2).reshape(-1, patch.shape[1], patch.shape[3])  # [b·P, L, C]
            share = max(1, -(-patch_size * len(chunk) // len(x)))
            patches.append(flat[torch.randperm(len(flat), generator=g)[:share]].half().cpu())
        if e.positions is not None:
            stats.add(frames_as_inputs(e.positions).cpu())
    if not whole and not patches and shallow is None and not pixels:
        raise ValueError("feature bank: whole-input distances off and no patches or position statistics "
                         "to score instead")
    return FeatureBank(torch.cat(inputs) if whole else None, torch.cat(patches) if patches else None,
                       stats.finish() if shallow is not None else None,
                       pixel_gaussians(x, batch_size) if pixels else None)


__all__ = ["Embedding", "FeatureBank", "PIXEL_FEATURE", "build_bank", "capture_output", "embed", "feature_knn", "knn_distances",
           "patch_distances", "patch_embeddings", "pixel_distances", "pixel_gaussians",
           "pixel_neighbourhood_maps", "pixel_scores", "position_map"]
