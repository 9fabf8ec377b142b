"""Peak signal-to-noise ratio per frame and per clip.

PSNR = 10 · log10(data_range² / MSE), MSE over (H, W, C) of one frame, in dB; identical frames
give +inf (as scikit-image's ``peak_signal_noise_ratio``) unless ``max_db`` caps them. The clip
score is the mean of the per-frame scores (the SVG / MCVD convention), computed in float64.
Reports (``evaluate``, the benchmark) cap at ``REPORT_MAX_DB`` = 100 dB so that a single identical
frame (e.g. a static scene predicted by copy-last) cannot make a mean infinite.
"""
from __future__ import annotations

import numpy as np

REPORT_MAX_DB = 100.0


def check_same_shape(pred: np.ndarray, truth: np.ndarray, what: str) -> None:
    if pred.shape != truth.shape:
        raise ValueError(f"{what}: prediction shape {tuple(pred.shape)} != truth shape {tuple(truth.shape)}")
    if pred.ndim < 3:
        raise ValueError(f"{what}: need frames [..., H, W, C], got shape {tuple(pred.shape)}")


def psnr_per_frame(pred: np.ndarray, truth: np.ndarray, data_range: float = 255.0,
                   max_db: float | None = None) -> np.ndarray:
    """pred, truth: [..., H, W, C] (e.g. [N, T, H, W, C]) in [0, data_range] -> PSNR [...] in dB, float64.

    ``max_db``: cap (identical frames give +inf without it)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    check_same_shape(pred, truth, "psnr")
    if not data_range > 0:
        raise ValueError(f"psnr: data_range must be > 0, got {data_range}")
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    mse = np.mean(diff * diff, axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        psnr = 10.0 * np.log10((data_range ** 2) / mse)
    return psnr if max_db is None else np.minimum(psnr, max_db)


def psnr_per_clip(pred: np.ndarray, truth: np.ndarray, data_range: float = 255.0,
                  max_db: float | None = None) -> np.ndarray:
    """pred, truth: [N, T, H, W, C] -> mean over the T frames of per-frame PSNR, [N] dB."""
    return psnr_per_frame(pred, truth, data_range, max_db).mean(axis=-1)
