"""Detection metrics on raw anomaly scores (higher = more anomalous), never squashed first.

``labels``: 1 for an anomaly (the positive class of AUROC, AUPR-out, FPR@95TPR and F1), 0 for normal.
All functions take 1-D arrays ``scores [N]`` and ``labels [N]`` (numpy or torch) and need at least one
input of each class. Ties are handled as scikit-learn does: one operating point per distinct score.

* AUROC: the Mann–Whitney probability P(s_anomaly > s_normal) + ½ P(equal), by average ranks.
* AUPR-out / AUPR-in: average precision (scikit-learn's step sum Σ (R_k − R_{k−1}) P_k) with the
  anomalies as positives on ``scores``, and with the normals as positives on ``−scores``.
* FPR@95TPR: the false-positive rate at the first threshold whose true-positive rate reaches 0.95.
* F1-max: the best F1 over all thresholds, with that threshold.
* Pixel / frame AUROC: AUROC over every pixel (or frame) of every input, against per-pixel (per-frame) labels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
from scipy.stats import rankdata


def _as_arrays(scores: Any, labels: Any, both_classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Flatten to float64 scores and int labels in {0, 1} (with ``both_classes``, both present); one-line
    ValueError on bad input."""
    s = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores/labels: {s.size} scores but {y.size} labels")
    if not np.isfinite(s).all():
        raise ValueError("scores: contain nan or inf")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels: must be 0 (normal) or 1 (anomaly)")
    y = y.astype(np.int64)
    if both_classes and y.min() == y.max():
        raise ValueError(f"labels: need both normal (0) and anomalous (1) inputs, got only {int(y[0])}")
    return s, y


def auroc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve, anomalies positive (module docstring)."""
    s, y = _as_arrays(scores, labels)
    ranks = rankdata(s)  # average ranks for ties
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _operating_points(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (true positives, false positives, threshold) at each distinct score, high to low."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last index of each run of equal scores
    tps = np.cumsum(y)[last]
    return tps, (last + 1) - tps, s[last]


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf; anomalies positive."""
    s, y = _as_arrays(scores, labels)
    tps, fps, thr = _operating_points(s, y)
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]], np.r_[np.inf, thr]


def pr_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) at each distinct score, high threshold first; anomalies positive."""
    s, y = _as_arrays(scores, labels)
    tps, fps, thr = _operating_points(s, y)
    return tps / (tps + fps), tps / tps[-1], thr


def average_precision(scores: Any, labels: Any) -> float:
    """Σ_k (R_k − R_{k−1}) P_k over the distinct thresholds (scikit-learn's definition)."""
    precision, recall, _ = pr_curve(scores, labels)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def aupr_out(scores: Any, labels: Any) -> float:
    """Average precision with the anomalies as positives."""
    return average_precision(scores, labels)


def aupr_in(scores: Any, labels: Any) -> float:
    """Average precision with the normal inputs as positives, ranked by −score."""
    s, y = _as_arrays(scores, labels)
    return average_precision(-s, 1 - y)


def fpr_at_tpr(scores: Any, labels: Any, tpr_level: float = 0.95) -> float:
    """False-positive rate at the first threshold (high to low) where the TPR reaches ``tpr_level``."""
    if not 0 < tpr_level <= 1:
        raise ValueError(f"tpr_level: must be in (0, 1], got {tpr_level}")
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(fpr[np.searchsorted(tpr, tpr_level - 1e-12, side="left")])


def f1_max(scores: Any, labels: Any) -> tuple[float, float]:
    """(best F1, its threshold): predicting ``score >= threshold`` as an anomaly gives that F1."""
    precision, recall, thr = pr_curve(scores, labels)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(thr[best])


def dense_auroc(maps: Any, masks: Any) -> float:
    """AUROC over every element of dense ``maps`` against ``masks`` of the same shape: pixel AUROC for
    image maps ``[B, H, W]``, frame AUROC for per-frame scores ``[B, T]`` with per-frame labels."""
    m = np.asarray(maps.detach().cpu() if hasattr(maps, "detach") else maps)
    k = np.asarray(masks.detach().cpu() if hasattr(masks, "detach") else masks)
    if m.shape != k.shape:
        raise ValueError(f"maps/masks: shapes differ, {tuple(m.shape)} vs {tuple(k.shape)}")
    return auroc(m, k)


def auroc_by_kind(scores: Any, labels: Any, kinds: Any) -> dict[str, float]:
    """AUROC of the normal inputs (label 0) against the anomalies of each kind: ``kinds [N]`` names each
    input's kind (the names of label-0 inputs are ignored); kinds with no anomaly are left out."""
    s, y = _as_arrays(scores, labels)
    k = np.asarray(kinds).astype(str)
    if k.shape != y.shape:
        raise ValueError(f"kinds: need one per input [{len(y)}], got {tuple(k.shape)}")
    normal = y == 0
    return {kind: auroc(np.r_[s[normal], s[(k == kind) & ~normal]],
                        np.r_[np.zeros(int(normal.sum())), np.ones(int(((k == kind) & ~normal).sum()))])
            for kind in sorted(set(k[~normal].tolist()))}


def mean_group_auroc(scores: Any, labels: Any, groups: Any) -> tuple[Optional[float], int]:
    """(mean of the AUROCs within each group that holds both classes, number of such groups); (None, 0)
    when none does. The "macro" frame AUROC of video anomaly sets: one AUROC per video, then the mean,
    so that a video whose scores run high overall does not count as anomalous frames."""
    s, y = _as_arrays(scores, labels, both_classes=False)
    g = np.asarray(groups).reshape(-1)
    if g.shape != y.shape:
        raise ValueError(f"groups: need one per input [{len(y)}], got {tuple(g.shape)}")
    values = [auroc(s[g == key], y[g == key]) for key in np.unique(g) if 0 < y[g == key].mean() < 1]
    return (float(np.mean(values)), len(values)) if values else (None, 0)


pixel_auroc = dense_auroc
frame_auroc = dense_auroc


@dataclass(frozen=True)
class DetectionMetrics:
    """The metrics of one scored set (module docstring); ``n_normal``/``n_anomaly`` the class counts."""

    auroc: float
    aupr_in: float
    aupr_out: float
    fpr_at_95_tpr: float
    f1_max: float
    f1_threshold: float
    n_normal: int
    n_anomaly: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def detection_metrics(scores: Any, labels: Any) -> DetectionMetrics:
    """Every image-level metric of the module for raw ``scores [N]`` and ``labels [N]``."""
    s, y = _as_arrays(scores, labels)
    f1, thr = f1_max(s, y)
    return DetectionMetrics(auroc(s, y), aupr_in(s, y), aupr_out(s, y), fpr_at_tpr(s, y), f1, thr,
                            int((1 - y).sum()), int(y.sum()))


__all__ = ["DetectionMetrics", "aupr_in", "aupr_out", "auroc", "auroc_by_kind", "average_precision", "dense_auroc",
           "detection_metrics", "f1_max", "fpr_at_tpr", "frame_auroc", "mean_group_auroc", "pixel_auroc", "pr_curve", "roc_curve"]
