"""Scoring K stochastic samples per clip: best-of-K (SVG / MCVD) or the mean over samples.

SVG (Denton & Fergus 2018) and MCVD report, per test clip, the sample whose clip-mean score is
best, and plot that sample's per-frame curve. ``reduce="mean"`` averages over samples instead.
"""
from __future__ import annotations

import numpy as np

REDUCTIONS = ("best", "mean")


def reduce_samples(per_frame: np.ndarray, reduce: str = "best") -> tuple[np.ndarray, np.ndarray]:
    """per_frame: scores [N, K, T] (higher is better) -> (per-frame [N, T], chosen sample index [N]).

    ``best``: per clip, the sample with the highest mean over frames (its whole curve is kept);
    ``mean``: the mean over the K samples (chosen index -1).
    """
    if per_frame.ndim != 3:
        raise ValueError(f"scores: need [N, K, T], got shape {per_frame.shape}")
    if reduce == "best":
        choice = np.argmax(per_frame.mean(axis=2), axis=1)
        return per_frame[np.arange(len(per_frame)), choice], choice
    if reduce == "mean":
        return per_frame.mean(axis=1), np.full(len(per_frame), -1)
    raise ValueError(f"reduce: must be one of {REDUCTIONS}, got {reduce!r}")
