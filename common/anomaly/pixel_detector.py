"""A detector with no network: per-position Gaussians of the inputs' own pixels (score kind ``pixels``).

Where the camera is fixed (a dash-cam that follows the ego, a surveillance camera, an inspection rig),
each place of the frame has one normal look, and 1,000 normal clips pin it down without learning
anything: PaDiM's per-position Gaussians (Defard et al. 2021) on each place's 3 × 3 pixel neighbourhood,
and for clips its change since the frame before (Kratz & Nishino 2009 model each place of a fixed camera
by its local spatio-temporal pattern), after pooling to at most 1,024 places
(:func:`~sciffusion.common.anomaly.positional.pixel_neighbourhoods`). On the driving set this scores
0.959 at 0 NFE where the diffusion features score 0.92 (docs/ood.md, nineteenth round); where the layout
is not fixed (moving or varied digits) it scores 0.59–0.80. So it is a member of the default clip
ensemble (``features+predictive+pixels+statistics``, docs/ood.md twentieth and twenty-second rounds), where
the max-of-z calibration lets it decide only when it departs most from normal, and it can be fitted alone
(``--score pixels``).

The same PyOD conventions as :class:`~sciffusion.common.anomaly.detector.DiffusionAnomalyDetector`:
``fit(X)`` on normal images ``[N, C, H, W]`` or clips ``[N, C, T, H, W]`` (data units), the Gaussians
from the training part, the calibration from the held-out part (``holdout_fraction``, ``seed``), the
score the largest Mahalanobis distance over places (and frames), the map the distances per place
upsampled to the input size (per frame for clips), a frame's score its own peak (frame 0, which has no
change of its own, takes frame 1's). NFE 0: no model call.

The same class fits the ``statistics`` score (:mod:`~sciffusion.common.anomaly.pixel_statistics`): one
Gaussian over a few whole-input pixel statistics (intensity and, for clips, frame-to-frame change: mean and
spread per channel), which sees content that is missing or added, a scene brighter or darker, a clip frozen
or shaking, where every place on its own still looks normal. It has no map; it is the fourth member of the
default clip ensemble (docs/ood.md, twenty-second round).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Optional

from torch import Tensor

from sciffusion.common.anomaly.calibration import Calibration, CalibrationConfig
from sciffusion.common.anomaly.detector import (CalibratedDetector, DetectorConfig, as_inputs, check_varied,
                                                split_normal)
from sciffusion.common.anomaly.embedding import pixel_gaussians, pixel_scores
from sciffusion.common.anomaly.features import AnomalyScores, score_in_batches
from sciffusion.common.anomaly.pixel_statistics import statistics_gaussian, statistics_scores
from sciffusion.common.anomaly.positional import PositionGaussians
from sciffusion.common.anomaly.resolution import check_working_shape, held_at, map_to_input
from sciffusion.common.anomaly.score_config import NO_NETWORK_SCORES, ScoreConfig
from sciffusion.common.anomaly.training import FitReport

FILE_KIND, FILE_VERSION = "sciffusion-anomaly-pixels", 1
PIXEL_SCORE = "pixels"
STATISTICS_SCORE = "statistics"
_FIT_AND_SCORE = {PIXEL_SCORE: (pixel_gaussians, pixel_scores),
                  STATISTICS_SCORE: (statistics_gaussian, statistics_scores)}
"""Per no-network score kind: (fit the Gaussians on normal inputs, score inputs against them)."""


def default_pixel_config(kind: str = PIXEL_SCORE) -> DetectorConfig:
    """A no-network detector's settings when none are given (``kind``: ``pixels`` or ``statistics``): the
    score's defaults (one feature, the ``mean`` density: the feature's own z) and the detector's (20 % held
    out, seed 0, working size 64 px)."""
    return DetectorConfig(score=ScoreConfig(kind=kind, levels=1), calibration=CalibrationConfig(density="mean"))


class PixelGaussianDetector(CalibratedDetector):
    """PyOD-style detector on the inputs' own pixels, no network (module docstring). ``config.score.kind``
    is ``pixels`` (per-position Gaussians) or ``statistics`` (one whole-input Gaussian); of the training
    settings only ``holdout_fraction``, ``seed``, ``max_side`` and ``score_batch_size`` apply.
    ``contamination`` overrides the calibration's."""

    def __init__(self, contamination: Optional[float] = None, config: Optional[DetectorConfig] = None):
        config = config or default_pixel_config()
        if config.score.kind not in NO_NETWORK_SCORES:
            raise ValueError(f"score: the pixel detector scores {' or '.join(map(repr, NO_NETWORK_SCORES))}, got "
                             f"{config.score.kind!r}")
        if contamination is not None:
            config = dataclasses.replace(config, calibration=dataclasses.replace(config.calibration,
                                                                                 contamination=contamination))
        self.config = config
        self.gaussians_: Optional[PositionGaussians] = None
        self.calibration_: Optional[Calibration] = None
        self.input_shape_: Optional[tuple[int, ...]] = None
        self.working_shape_: Optional[tuple[int, ...]] = None
        self.map_scale_: Optional[float] = None
        self.frame_scale_: Optional[float] = None

    @property
    def score_name(self) -> str:
        return self.config.score.kind

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input the detector was fitted on (no batch axis)."""
        if self.input_shape_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")
        return self.input_shape_

    @property
    def working_shape(self) -> tuple[int, ...]:
        """The shape the Gaussians see an input at (H, W area-averaged to ``max_side``)."""
        if self.working_shape_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")
        return self.working_shape_

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, val_X: Any = None, val_y: Any = None,
            on_score_batch: Optional[Callable[[int, int], None]] = None, **_: Any) -> "PixelGaussianDetector":
        """Fit the Gaussians on the training part of normal ``X`` (``y`` ignored, as in PyOD), calibrate on
        its held-out part (with ``val_X``/``val_y`` for the ``f1`` rule). Network options (``net_config``,
        ``init_state``, ``progress``) are accepted and ignored: there is no network."""
        inputs = as_inputs(X)
        hold_x = self.train_part(inputs)
        return self.calibrate_part(inputs, hold_x, val_X=val_X, val_y=val_y, on_score_batch=on_score_batch)

    def train_part(self, X: Any, *, net_config: Any = None, init_state: Any = None, progress: bool = False) -> Tensor:
        """Split ``X`` as the diffusion detectors do (same ``seed`` and ``holdout_fraction``: an ensemble's
        members share one split) and fit the Gaussians on the training part; returns the held-out part at
        the working size. ``net_config``: when given, its ``sample_shape`` is the working size (the size
        an ensemble holds its inputs at); the rest of it and ``init_state`` are ignored."""
        start = time.monotonic()
        inputs = as_inputs(X)
        in_shape = inputs.input_shape
        if len(in_shape) not in (3, 4):
            raise ValueError(f"X: the {self.score_name} score needs images [N, C, H, W] or clips [N, C, T, H, W], "
                             f"got inputs of shape {list(in_shape)}")
        work = tuple(net_config.sample_shape) if net_config is not None else self.config.working_shape(in_shape)
        check_working_shape(in_shape, work)
        x = held_at(inputs, work)
        train_x, hold_x = split_normal(x, self.config.holdout_fraction, self.config.seed)
        check_varied(x)
        self.gaussians_ = _FIT_AND_SCORE[self.score_name][0](train_x, self.config.score_batch_size)
        self.input_shape_, self.working_shape_ = in_shape, work
        self.fit_report_ = FitReport(0, time.monotonic() - start, "no training", None, len(train_x))
        return hold_x

    # ---- scoring -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.gaussians_ is None or self.calibration_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")

    def score_samples(self, X: Any, on_batch: Optional[Callable[[int], None]] = None) -> AnomalyScores:
        """Uncalibrated scores of ``X [N, ...]`` (:func:`pixel_scores`; maps at the inputs' H, W) in batches
        of ``score_batch_size``; ``on_batch(n)`` after each batch of n inputs."""
        inputs = as_inputs(X)
        if self.input_shape_ is not None and inputs.input_shape != self.sample_shape:
            raise ValueError(f"X: inputs of shape {list(inputs.input_shape)}, the detector was fitted on "
                             f"{list(self.sample_shape)}")
        scores = self._score_working(held_at(inputs, self.working_shape), on_batch)
        return dataclasses.replace(scores, map=map_to_input(scores.map, tuple(inputs.input_shape[-2:])))

    def _score_working(self, x: Tensor, on_batch: Optional[Callable[[int], None]] = None) -> AnomalyScores:
        if self.gaussians_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")
        scores = _FIT_AND_SCORE[self.score_name][1]
        return score_in_batches(x, self.config.score_batch_size, lambda chunk: scores(chunk, self.gaussians_), on_batch)

    # ---- files ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything :meth:`from_state` needs (weights-only loadable)."""
        self._check_fitted()
        return {"kind": FILE_KIND, "format_version": FILE_VERSION, "config": self.config.to_dict(),
                "calibration": self.calibration_.to_dict(), "gaussians": self.gaussians_.to_dict(),
                "fit_report": dataclasses.asdict(self.fit_report_) if hasattr(self, "fit_report_") else None,
                "map_scale": self.map_scale_, "frame_scale": self.frame_scale_,
                "input_shape": list(self.input_shape_), "working_shape": list(self.working_shape_)}

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str = "detector") -> "PixelGaussianDetector":
        from sciffusion.common.io.checkpoint import check_file_kind

        check_file_kind(state, source, FILE_KIND, FILE_VERSION, "pixel detector", "sciffusion ood fit --score pixels")
        det = cls(config=DetectorConfig.from_dict(state["config"]))
        det.calibration_ = Calibration.from_dict(state["calibration"])
        det.gaussians_ = PositionGaussians.from_saved(state.get("gaussians"))
        if det.gaussians_ is None:
            raise ValueError(f"{source}: a pixel detector without its Gaussians")
        if state.get("fit_report"):
            det.fit_report_ = FitReport(**state["fit_report"])
        det.map_scale_, det.frame_scale_ = state.get("map_scale"), state.get("frame_scale")
        det.input_shape_ = tuple(state["input_shape"])
        det.working_shape_ = tuple(state["working_shape"])
        return det


__all__ = ["FILE_KIND", "FILE_VERSION", "PIXEL_SCORE", "STATISTICS_SCORE", "PixelGaussianDetector",
           "default_pixel_config"]
