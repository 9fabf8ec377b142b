"""Deterministic frame-prediction baselines: the floor a video model has to beat.

* ``copy-last``: every predicted frame is the last context frame.
* ``linear``: per-pixel linear extrapolation of the last two context frames,
  ``x[t_c + k] = x[t_c] + k · (x[t_c] - x[t_c - 1])``, clipped to [0, 255].
"""
from __future__ import annotations

import numpy as np

METHODS = ("copy-last", "linear")


def predict(context: np.ndarray, horizon: int, method: str) -> np.ndarray:
    """context: uint8 [N, T_c, H, W, C] -> prediction uint8 [N, horizon, H, W, C]."""
    context = np.asarray(context)
    if context.ndim != 5:
        raise ValueError(f"context: need [N, T, H, W, C], got shape {context.shape}")
    if horizon < 1:
        raise ValueError(f"--horizon: must be >= 1, got {horizon}")
    if method == "copy-last":
        return np.repeat(context[:, -1:], horizon, axis=1)
    if method == "linear":
        if context.shape[1] < 2:
            raise ValueError(f"linear: needs at least 2 context frames, got {context.shape[1]}")
        last = context[:, -1:].astype(np.float32)
        step = last - context[:, -2:-1].astype(np.float32)
        k = np.arange(1, horizon + 1, dtype=np.float32).reshape(1, -1, 1, 1, 1)
        return np.clip(np.rint(last + k * step), 0, 255).astype(np.uint8)
    raise ValueError(f"--method: must be one of {METHODS}, got {method!r}")
