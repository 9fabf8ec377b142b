"""Evaluate a prediction store against its truth store: PSNR, SSIM (per frame and clip) and FVD.

Outputs in ``out/``: ``metrics.csv`` (``clip,method,psnr,ssim``: clip means), ``per_frame.csv``
(``method,frame,psnr,ssim``: means over clips per predicted frame), ``summary.json`` (means, ``fvd``,
the protocol) and ``ssim_per_frame.png``. FVD compares the real clips (context + true future,
frames [0, context + horizon)) with context + prediction (sample 0), as in MCVD.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sciffusion.common.io.atomic import atomic_path
from sciffusion.domains.video.metrics.best_of_k import REDUCTIONS
from sciffusion.common.io.outputs import check_outputs, resolved


@dataclass(frozen=True)
class EvaluateConfig:
    pred: Path
    truth: Path
    out: Path
    reduce: str = "best"
    fvd: bool = True
    fvd_clips: int | None = None  # None: all clips
    i3d_weights: Path | None = None  # None: $SCIFFUSION_I3D_WEIGHTS or the shared default
    batch_size: int = 2
    feature_cache: Path | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"--reduce: must be one of {REDUCTIONS}, got {self.reduce!r}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size: must be >= 1, got {self.batch_size}")
        if self.fvd_clips is not None and self.fvd_clips < 2:
            raise ValueError(f"--fvd-clips: must be >= 2, got {self.fvd_clips}")
        out = resolved(self.out)
        if out in (resolved(self.pred), resolved(self.truth)):
            raise ValueError(f"--out: {self.out} would overwrite an input store")


@dataclass(frozen=True)
class FrameScores:
    """psnr, ssim: [N, T_pred] after reducing the K samples; chosen: [N] sample index (-1 for mean)."""

    psnr: np.ndarray
    ssim: np.ndarray
    chosen: np.ndarray


@dataclass(frozen=True)
class EvaluateResult:
    method: str
    clips: int
    psnr: float
    ssim: float
    fvd: float | None
    fvd_clips: int
    truth_clips: int = 0  # clips in the truth store (more than ``clips`` for a prediction of the first N)
    per_frame_psnr: list[float] = field(default_factory=list)
    per_frame_ssim: list[float] = field(default_factory=list)


def score_frames(prediction: np.ndarray, truth: np.ndarray, reduce: str = "best") -> FrameScores:
    """prediction uint8 [N, K, T, H, W, C], truth uint8 [N, T, H, W, C] -> per-frame scores.

    ``best`` keeps, per clip and per metric, the sample with the best clip-mean score (SVG/MCVD).
    PSNR is capped at ``REPORT_MAX_DB`` (100 dB) per frame so identical frames keep means finite.
    """
    from sciffusion.domains.video.metrics.best_of_k import reduce_samples
    from sciffusion.domains.video.metrics.psnr import REPORT_MAX_DB, psnr_per_frame
    from sciffusion.domains.video.metrics.ssim import ssim_per_frame

    if prediction.ndim != 6 or prediction.shape[:1] + prediction.shape[2:] != truth.shape:
        raise ValueError(f"prediction {prediction.shape} does not match truth {truth.shape} as [N, K, T, H, W, C]")
    expanded = np.broadcast_to(truth[:, None], prediction.shape)
    psnr, _ = reduce_samples(psnr_per_frame(prediction, expanded, max_db=REPORT_MAX_DB), reduce)
    ssim, chosen = reduce_samples(ssim_per_frame(prediction, expanded), reduce)
    return FrameScores(psnr, ssim, chosen)


def fvd_between(real: np.ndarray, fake: np.ndarray, i3d_weights: Path | None = None, batch_size: int = 2,
                feature_cache: Path | None = None, progress: Callable[[int], None] | None = None) -> float:
    """FVD between uint8 clip sets [N, T, H, W, C] and [M, T, H, W, C] (protocol in ``metrics/fvd.py``)."""
    from sciffusion.domains.video.metrics.fvd import cached_features, fvd_from_features
    from sciffusion.domains.video.metrics.i3d import load_i3d

    model = None

    def model_fn():
        nonlocal model
        if model is None:
            model = load_i3d(i3d_weights)
        return model

    feats_real = cached_features(model_fn, real, feature_cache, batch_size, progress)
    feats_fake = cached_features(model_fn, fake, feature_cache, batch_size, progress)
    return fvd_from_features(feats_real, feats_fake)


@dataclass(frozen=True)
class PredictionPair:
    """A prediction store read next to its truth store (both layouts checked on open).

    prediction: uint8 [N, K, T_pred, H, W, C]; future: truth frames [context, context + T_pred),
    uint8 [N, T_pred, H, W, C]; context: truth frames [0, context), uint8 [N, context, H, W, C].
    """

    prediction: np.ndarray
    future: np.ndarray
    context: np.ndarray
    attrs: dict
    fps: float  # of the truth store
    truth_clips: int  # clips in the truth store (more than N when the prediction covers the first N)


def load_pair(pred_path: Path, truth_path: Path) -> PredictionPair:
    """Open both stores, check that ``pred_path`` predicts every clip of ``truth_path`` (or the first N
    that it says it predicts), read them."""
    from sciffusion.domains.video.zarr_store import check_prediction_pair, open_video_store

    pred_store = open_video_store(pred_path, kind="prediction")
    truth_store = open_video_store(truth_path, kind="dataset")
    check_prediction_pair(pred_store, truth_store)
    c = pred_store.context
    truth_all = truth_store.video[: pred_store.num_clips, : c + pred_store.horizon]
    return PredictionPair(prediction=pred_store.video[...], future=truth_all[:, c:], context=truth_all[:, :c],
                          attrs=dict(pred_store.attrs), fps=truth_store.fps, truth_clips=truth_store.num_clips)


def plot_ssim_per_frame(path: Path, curves: dict[str, np.ndarray], context: int) -> None:
    """curves: method -> mean SSIM per predicted frame [T_pred]; x axis = frame index after the context."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    fig = Figure(figsize=(5, 3.2), dpi=120)
    ax = fig.add_subplot()
    for name, curve in curves.items():
        ax.plot(np.arange(context + 1, context + 1 + len(curve)), curve, marker="o", ms=3, label=name)
    ax.set_xlabel("frame (1-based, after %d context frames)" % context)
    ax.set_ylabel("SSIM (mean over clips)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def evaluate(cfg: EvaluateConfig, progress: Callable[[int], None] | None = None) -> EvaluateResult:
    """Score ``cfg.pred`` against ``cfg.truth`` and write the report folder ``cfg.out`` atomically."""
    import pandas as pd

    check_outputs([("--out", Path(cfg.out), True)],  # before minutes of FVD, not after
                  [cfg.pred, cfg.truth, cfg.i3d_weights, cfg.feature_cache], cfg.overwrite)
    pair = load_pair(Path(cfg.pred), Path(cfg.truth))
    prediction, future, context, attrs = pair.prediction, pair.future, pair.context, pair.attrs
    n_context = context.shape[1]
    method = str(attrs.get("method", Path(cfg.pred).stem))
    scores = score_frames(prediction, future, cfg.reduce)
    fvd_value, n_fvd = None, 0
    if cfg.fvd:
        n_fvd = len(prediction) if cfg.fvd_clips is None else min(cfg.fvd_clips, len(prediction))
        if n_fvd < 2:
            raise ValueError(f"{cfg.pred}: FVD needs at least 2 clips, got {n_fvd}")
        from sciffusion.domains.video.metrics.fvd import MIN_FRAMES

        if n_context + future.shape[1] < MIN_FRAMES:
            raise ValueError(f"{cfg.pred}: FVD needs clips of at least {MIN_FRAMES} frames, context + horizon is "
                             f"{n_context + future.shape[1]} (pass --no-fvd)")
        real = np.concatenate([context[:n_fvd], future[:n_fvd]], axis=1)
        fake = np.concatenate([context[:n_fvd], prediction[:n_fvd, 0]], axis=1)
        fvd_value = fvd_between(real, fake, cfg.i3d_weights, cfg.batch_size, cfg.feature_cache, progress)
    psnr_clip, ssim_clip = scores.psnr.mean(axis=1), scores.ssim.mean(axis=1)
    result = EvaluateResult(method=method, clips=len(prediction), psnr=float(psnr_clip.mean()),
                            ssim=float(ssim_clip.mean()), fvd=fvd_value, fvd_clips=n_fvd, truth_clips=pair.truth_clips,
                            per_frame_psnr=scores.psnr.mean(axis=0).tolist(),
                            per_frame_ssim=scores.ssim.mean(axis=0).tolist())
    summary = {"method": method, "clips": result.clips, "truth_clips": pair.truth_clips, "context": n_context,
               "horizon": future.shape[1], "samples": int(prediction.shape[1]), "reduce": cfg.reduce,
               "psnr": result.psnr, "psnr_max_db": 100.0, "ssim": result.ssim, "fvd": fvd_value, "fvd_clips": n_fvd,
               "fvd_protocol": "I3D (TF-Hub K400) time-averaged logits; RGB [-1,1]; bilinear 224x224; "
                               "real = context + truth, fake = context + prediction sample 0",
               "pred": str(cfg.pred), "truth": str(cfg.truth),
               "per_frame_psnr": result.per_frame_psnr, "per_frame_ssim": result.per_frame_ssim}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        pd.DataFrame({"clip": np.arange(len(psnr_clip)), "method": method, "psnr": psnr_clip,
                      "ssim": ssim_clip}).to_csv(tmp / "metrics.csv", index=False)
        pd.DataFrame({"method": method, "frame": np.arange(n_context + 1,
                                                          n_context + 1 + future.shape[1]),
                      "psnr": result.per_frame_psnr, "ssim": result.per_frame_ssim}).to_csv(
            tmp / "per_frame.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot_ssim_per_frame(tmp / "ssim_per_frame.png", {method: scores.ssim.mean(axis=0)}, n_context)
    return result
