"""PNG overlays of dense anomaly maps: the input in grey with the map in red on top.

Maps are scaled by one value for the whole set (``vmax``, e.g. the 99th percentile of every map), so
overlays of different inputs are comparable; a clip becomes one row of its frames.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def overlay(pixels: np.ndarray, heat: np.ndarray, vmax: float, alpha: float = 0.6) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` from ``pixels`` uint8 ``[H, W, C]`` and ``heat`` ``[H, W]`` (≥ 0)."""
    grey = pixels.astype(np.float32).mean(-1) / 255.0
    level = np.clip(heat / max(vmax, 1e-12), 0.0, 1.0) * alpha
    rgb = np.stack([grey * (1 - level) + level, grey * (1 - level), grey * (1 - level)], -1)
    return (rgb * 255).round().astype(np.uint8)


def write_overlay(path: Path, pixels: np.ndarray, heat: np.ndarray, vmax: float, scale: int = 4) -> None:
    """Write one input's overlay: images ``[H, W, C]`` with ``heat [H, W]``, or clips ``[T, H, W, C]``
    with ``heat [T, H, W]`` as one row of frames; upscaled ``scale`` times (nearest)."""
    from PIL import Image

    if pixels.ndim == 4:
        tile = np.concatenate([overlay(p, h, vmax) for p, h in zip(pixels, heat)], axis=1)
    else:
        tile = overlay(pixels, heat, vmax)
    image = Image.fromarray(tile)
    image.resize((image.width * scale, image.height * scale), Image.NEAREST).save(path)


__all__ = ["overlay", "write_overlay"]
