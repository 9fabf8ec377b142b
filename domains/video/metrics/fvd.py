"""Fréchet Video Distance (Unterthiner et al. 2018, arXiv:1812.01717).

Protocol (see ``docs/video.md``):

* Each clip, uint8 [T, H, W, C] with T >= 9, is turned into RGB (grey is repeated over 3
  channels), scaled to [-1, 1] and resized frame by frame to 224×224 with bilinear interpolation
  (no crop: our stores already hold square frames; antialiasing when downsampling).
* The embedding is the 400-d Kinetics-400 logits of I3D averaged over time (the TF-Hub output),
  from :mod:`sciffusion.domains.video.metrics.i3d`.
* FVD is the Fréchet distance between Gaussians fitted to the two embedding sets, float64:
  ``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1^½ S2 S1^½)^½)``, the trace of the matrix square root
  computed from eigenvalues of symmetric PSD matrices (no complex round-off from ``sqrtm``).

Features are extracted in batches (``batch_size`` clips per forward pass) and may be cached on disk,
keyed by a hash of the clip bytes and the protocol, so a truth set is embedded once.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sciffusion.common.io.atomic import atomic_path

I3D_SIZE = 224
MIN_FRAMES = 9
PROTOCOL = "i3d-tfhub-k400-logits/rgb[-1,1]/bilinear224/v1"


def to_i3d_input(clips: np.ndarray, size: int = I3D_SIZE) -> torch.Tensor:
    """clips: uint8 [B, T, H, W, C] (C = 1 or 3) -> float32 [B, 3, T, size, size] in [-1, 1]."""
    clips = np.asarray(clips)
    if clips.ndim != 5 or clips.shape[-1] not in (1, 3):
        raise ValueError(f"fvd: need clips [B, T, H, W, C] with C in (1, 3), got shape {clips.shape}")
    if clips.shape[1] < MIN_FRAMES:
        raise ValueError(f"fvd: clips of {clips.shape[1]} frames, I3D needs at least {MIN_FRAMES}")
    b, t, h, w, c = clips.shape
    x = torch.from_numpy(np.ascontiguousarray(clips)).float().div_(127.5).sub_(1.0)
    x = x.reshape(b * t, h, w, c).permute(0, 3, 1, 2)
    if c == 1:
        x = x.expand(-1, 3, -1, -1)
    if (h, w) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=bool(h > size or w > size))
    return x.reshape(b, t, 3, size, size).permute(0, 2, 1, 3, 4).contiguous()


def extract_features(model: torch.nn.Module, clips: Sequence[np.ndarray] | np.ndarray, batch_size: int = 2,
                     progress: Callable[[int], None] | None = None) -> np.ndarray:
    """I3D embeddings of ``clips`` (indexable, each uint8 [T, H, W, C]) -> float64 [N, 400].

    ``clips[i:j]`` must return uint8 [j - i, T, H, W, C] (numpy and zarr arrays both do).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    n = len(clips)
    feats = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            batch = np.asarray(clips[start:start + batch_size])
            feats.append(model(to_i3d_input(batch)).double().numpy())
            if progress is not None:
                progress(len(batch))
    return np.concatenate(feats) if feats else np.zeros((0, 400))


def clips_digest(clips: np.ndarray) -> str:
    """sha256 over the protocol string, the array shape and the uint8 clip bytes."""
    h = hashlib.sha256(PROTOCOL.encode())
    h.update(repr(tuple(clips.shape)).encode())
    h.update(np.ascontiguousarray(clips).tobytes())
    return h.hexdigest()[:32]


def cached_features(model_fn: Callable[[], torch.nn.Module], clips: np.ndarray, cache_dir: Path | str | None,
                    batch_size: int = 2, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Like :func:`extract_features`, but reuse ``cache_dir/<digest>.npy`` when present (and write it
    when not). ``model_fn`` is only called when features must be computed."""
    if cache_dir is None:
        return extract_features(model_fn(), clips, batch_size, progress)
    cache = Path(cache_dir) / f"i3d_{clips_digest(clips)}.npy"
    if cache.is_file():
        feats = np.load(cache)
        if progress is not None:
            progress(len(clips))
        return feats
    feats = extract_features(model_fn(), clips, batch_size, progress)
    with atomic_path(cache, overwrite=True) as tmp:  # a concurrent run may have written the same features
        np.save(tmp, feats)
    return feats


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """features [N, D] -> (mean [D], covariance [D, D] with the N - 1 normalisation), float64."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"fvd: need at least 2 feature vectors [N, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), float64, >= 0."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"fvd: mismatched Gaussians {mu1.shape}/{sigma1.shape} vs {mu2.shape}/{sigma2.shape}")
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    eig = np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None)
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.sqrt(eig).sum()
    return float(max(value, 0.0))


def fvd_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FVD between two embedding sets [N, 400] and [M, 400]."""
    return frechet_distance(*gaussian_fit(features_a), *gaussian_fit(features_b))
