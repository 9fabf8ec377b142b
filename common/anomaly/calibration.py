"""Calibration of anomaly features on normal held-out data: z-scoring, a density, a threshold, a [0, 1] score.

Fitted on the features ``[N, F]`` of normal inputs only (:func:`calibrate`):

1. per-feature (per-level) z-scoring, z = (f − mean) / std, with the normal mean and std;
2. a density model on z (:mod:`~sciffusion.common.anomaly.densities`): GMM, KDE, kNN distance, or the
   plain mean of z; its score is the calibrated anomaly score (raw, higher = more anomalous);
3. a threshold on that score: ``quantile`` (the 1 − contamination quantile of the normal scores, PyOD's
   rule), ``f1`` (the F1-maximising threshold on a labelled validation set, when it has anomalies;
   without anomalies it falls back to the quantile, never to the minimum score), or ``manual``;
4. a normalised score in (0, 1): sigmoid((s − threshold) / scale) with scale the robust spread
   (1.4826 · MAD) of the normal scores, so the threshold sits exactly at 0.5 and the map is monotone.

Metrics are computed on the raw scores (:mod:`~sciffusion.common.anomaly.metrics`), not the normalised ones.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal, Optional

import numpy as np

from sciffusion.common.anomaly.densities import DENSITY_KINDS, Density, DensityKind, density_from_dict, fit_density
from sciffusion.common.anomaly.metrics import f1_max

ThresholdKind = Literal["quantile", "f1", "manual"]
THRESHOLD_KINDS: tuple[str, ...] = ("quantile", "f1", "manual")


@dataclass(frozen=True)
class CalibrationConfig:
    """Density on the z-scored features, threshold rule, contamination (expected anomaly fraction in
    (0, 0.5]), ``manual_threshold`` (raw calibrated-score units, ``manual`` only), GMM ``components``,
    kNN ``neighbours`` and the ``seed`` of the GMM initialisation."""

    density: DensityKind = "gmm"
    threshold: ThresholdKind = "quantile"
    contamination: float = 0.1
    manual_threshold: Optional[float] = None
    components: int = 3
    neighbours: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.density not in DENSITY_KINDS:
            raise ValueError(f"density: must be one of {', '.join(DENSITY_KINDS)}, got {self.density!r}")
        if self.threshold not in THRESHOLD_KINDS:
            raise ValueError(f"threshold: must be one of {', '.join(THRESHOLD_KINDS)}, got {self.threshold!r}")
        if not 0 < self.contamination <= 0.5:
            raise ValueError(f"contamination: must be in (0, 0.5], got {self.contamination}")
        if (self.threshold == "manual") != (self.manual_threshold is not None):
            raise ValueError("manual_threshold: give it exactly when threshold is 'manual'")
        if self.manual_threshold is not None and not math.isfinite(self.manual_threshold):
            raise ValueError(f"manual_threshold: must be a finite number, got {self.manual_threshold}")
        if self.components < 1 or self.neighbours < 1:
            raise ValueError(f"components/neighbours: must be >= 1, got ({self.components}, {self.neighbours})")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration (module docstring). ``threshold_source`` says which rule set the threshold."""

    config: CalibrationConfig
    mean: np.ndarray
    std: np.ndarray
    density: Density
    threshold: float
    scale: float
    threshold_source: str

    def zscore(self, features: np.ndarray) -> np.ndarray:
        """z-scored features ``[N, F]``."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(self.mean):
            raise ValueError(f"features: need [N, {len(self.mean)}], got {tuple(features.shape)}")
        return (features - self.mean) / self.std

    def score(self, features: np.ndarray) -> np.ndarray:
        """Calibrated raw anomaly scores ``[N]`` (higher = more anomalous)."""
        return self.density.score(self.zscore(features))

    def normalise(self, scores: np.ndarray) -> np.ndarray:
        """sigmoid((s − threshold) / scale) ∈ (0, 1); exactly 0.5 at the threshold."""
        return 1.0 / (1.0 + np.exp(-np.clip((np.asarray(scores) - self.threshold) / self.scale, -500, 500)))

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """1 where ``score > threshold`` (PyOD's rule), else 0; int64 ``[N]``."""
        return (np.asarray(scores) > self.threshold).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "density": self.density.to_dict(), "threshold": self.threshold, "scale": self.scale,
                "threshold_source": self.threshold_source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        return cls(CalibrationConfig(**d["config"]), np.asarray(d["mean"], dtype=np.float64),
                   np.asarray(d["std"], dtype=np.float64), density_from_dict(d["density"]), float(d["threshold"]),
                   float(d["scale"]), str(d["threshold_source"]))


def _strictly_below(threshold: float, scores: np.ndarray) -> float:
    """A threshold t' with ``score > t'`` ⇔ ``score >= threshold`` on ``scores``: F1-max counts a score at
    its threshold as an anomaly, PyOD's ``predict`` (``score > threshold_``) does not. The midpoint to
    the next lower score, or the next float below when there is none."""
    lower = scores[scores < threshold]
    return float((lower.max() + threshold) / 2) if len(lower) else float(np.nextafter(threshold, -np.inf))


def _threshold(config: CalibrationConfig, normal_scores: np.ndarray, val_scores: Optional[np.ndarray],
               val_labels: Optional[np.ndarray]) -> tuple[float, str]:
    quantile = float(np.quantile(normal_scores, 1 - config.contamination))
    if config.threshold == "manual":
        return float(config.manual_threshold), "manual"
    if config.threshold == "f1":
        if val_scores is None or val_labels is None or not np.any(val_labels == 1) or np.all(val_labels == 1):
            return quantile, "quantile (f1 requested, validation has no anomalies or no normals)"
        return _strictly_below(f1_max(val_scores, val_labels)[1], val_scores), "f1"
    return quantile, "quantile"


def calibrate(features: np.ndarray, config: CalibrationConfig = CalibrationConfig(), *,
              val_features: Optional[np.ndarray] = None, val_labels: Optional[np.ndarray] = None) -> Calibration:
    """Fit z-scoring, density and threshold on normal ``features [N, F]`` (module docstring).

    val_features ``[M, F]`` / val_labels ``[M]`` (0 normal, 1 anomaly): the labelled validation set of
    the ``f1`` rule; ignored by the other rules.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features: need [N, F] with N >= 2 normal inputs, got {tuple(features.shape)}")
    if not np.isfinite(features).all():
        raise ValueError("features: contain nan or inf")
    mean, std = features.mean(0), features.std(0)
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    z = (features - mean) / std
    density = fit_density(config.density, z, components=config.components, neighbours=config.neighbours,
                          seed=config.seed)
    normal_scores = density.score_reference(z)
    val_scores = None
    if val_features is not None:
        val_scores = density.score((np.asarray(val_features, dtype=np.float64) - mean) / std)
        val_labels = np.asarray(val_labels).reshape(-1) if val_labels is not None else None
    threshold, source = _threshold(config, normal_scores, val_scores, val_labels)
    mad = float(np.median(np.abs(normal_scores - np.median(normal_scores))))
    scale = max(1.4826 * mad, float(normal_scores.std()) * 1e-3, 1e-12)
    return Calibration(config, mean, std, density, threshold, scale, source)


__all__ = ["THRESHOLD_KINDS", "Calibration", "CalibrationConfig", "ThresholdKind", "calibrate"]
