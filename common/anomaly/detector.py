"""A PyOD-compatible anomaly detector built on a diffusion model.

``fit(X)`` trains a denoiser on normal data X ``[N, ...]`` (data units; images ``[N, C, H, W]`` and
clips ``[N, C, T, H, W]`` in [−1, 1], or PyOD's tabular ``[N, d]``) with
:func:`~sciffusion.common.anomaly.training.train_denoiser` (a step cap and a time budget), or fine-tunes
given weights, then calibrates (:mod:`~sciffusion.common.anomaly.calibration`) on a held-out part of X
that training never saw. PyOD's conventions hold: higher scores are more anomalous,
``decision_scores_`` are the scores of the fitting data X (all of it), ``threshold_`` is the
(1 − contamination) quantile of the calibration scores (those of the held-out part; with
``holdout_fraction = 0`` they are the scores of all of X, exactly PyOD's rule), ``labels_`` =
``decision_scores_ > threshold_``. ``predict_proba`` returns ``[N, 2]`` = (1 − p, p) with p the
normalised score, 0.5 at the threshold. ``save``/``load`` keep the weights and the calibration together.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor

from sciffusion.common.anomaly.calibration import Calibration, CalibrationConfig, calibrate
from sciffusion.common.anomaly.embedding import FeatureBank
from sciffusion.common.anomaly.features import AnomalyScores, frame_scores, score_in_batches
from sciffusion.common.anomaly.networks import DenoiserNetConfig
from sciffusion.common.anomaly.resolution import (SIDE_MULTIPLE, ReducedInputs, check_working_shape, held_at,
                                                  map_to_input, working_shape)
from sciffusion.common.anomaly.score_config import (NO_NETWORK_SCORES, ScoreConfig, compute_scores, patch_bank_for,
                                                    pixels_for, positions_for, whole_input_for)
from sciffusion.common.anomaly.training import FitReport, train_denoiser
from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.precision import AUTO_PRECISION, check_precision

FILE_KIND, FILE_VERSION = "sciffusion-anomaly-detector", 1


def _default_train() -> TrainConfig:
    return TrainConfig(lr=1e-3, ema_decay=0.995, lr_warmup_steps=20)


@dataclass(frozen=True)
class DetectorConfig:
    """Score, calibration and training settings of a detector: ``minutes`` (wall budget) and
    ``max_steps`` of training, ``batch_size`` for training, ``score_batch_size`` for scoring,
    ``holdout_fraction`` of X kept out of training for calibration (0: calibrate on all of X),
    ``seed`` of the split and the data order, ``max_side``: images and clips whose larger side is
    longer are scored at a reduced working size (:mod:`~sciffusion.common.anomaly.resolution`; None:
    always at their own size; detector files from before the option load with None), ``precision``: the
    training's (:data:`~sciffusion.common.training.precision.PRECISIONS`; ``auto``: bf16 mixed precision where
    the hardware computes bf16 natively, 1.7 times the steps per minute on such a CPU, docs/ood.md; files
    from before the option load with ``32-true``)."""

    score: ScoreConfig = field(default_factory=ScoreConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    train: TrainConfig = field(default_factory=_default_train)
    minutes: float = 5.0
    max_steps: int = 2000
    batch_size: int = 64
    score_batch_size: int = 128
    holdout_fraction: float = 0.2
    seed: int = 0
    max_side: Optional[int] = 64
    precision: str = AUTO_PRECISION

    def __post_init__(self) -> None:
        if self.minutes <= 0 or self.max_steps < 1:
            raise ValueError(f"minutes/max_steps: need > 0 and >= 1, got ({self.minutes}, {self.max_steps})")
        if self.batch_size < 1 or self.score_batch_size < 1:
            raise ValueError("batch_size/score_batch_size: must be >= 1")
        if not 0 <= self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction: must be in [0, 1), got {self.holdout_fraction}")
        if self.max_side is not None and self.max_side < SIDE_MULTIPLE:
            raise ValueError(f"max_side: must be >= {SIDE_MULTIPLE} px (or None: full size), got {self.max_side}")
        check_precision(self.precision)

    def working_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the network sees for inputs of ``sample_shape`` (:func:`~.resolution.working_shape`)."""
        return working_shape(sample_shape, self.max_side)

    @property
    def name(self) -> str:
        """The score kind."""
        return self.score.kind

    @property
    def members(self) -> tuple["DetectorConfig", ...]:
        """This config alone (an ensemble config has several)."""
        return (self,)

    def nfe_for(self, sample_shape: tuple[int, ...]) -> int:
        """Denoiser calls per input of ``sample_shape``."""
        return self.score.nfe_for(sample_shape)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(score=self.score.to_dict(), calibration=self.calibration.to_dict(), train=self.train.to_dict())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DetectorConfig":
        d = dict(d)
        d.setdefault("max_side", None)  # files from before the working resolution scored at full size
        d.setdefault("precision", "32-true")  # files from before session 37 trained in float32
        return cls(score=ScoreConfig(**d.pop("score")), calibration=CalibrationConfig(**d.pop("calibration")),
                   train=TrainConfig.from_dict(d.pop("train")), **d)


def as_tensor(X: Any) -> Tensor:
    """Inputs as float32 ``[N, ...]`` (numpy or torch); one-line ValueError otherwise."""
    x = torch.as_tensor(np.asarray(X) if not isinstance(X, Tensor) else X).float()
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"X: need [N, ...] with N >= 1, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("X: contains nan or inf")
    return x


def as_inputs(X: Any) -> ReducedInputs:
    """Inputs as :class:`~.resolution.ReducedInputs`: given ones checked (float32, finite), arrays and
    tensors as inputs held at their own size."""
    if isinstance(X, ReducedInputs):
        return ReducedInputs(as_tensor(X.x), X.input_shape)
    x = as_tensor(X)
    return ReducedInputs(x, tuple(x.shape[1:]))


def holdout_size(n: int, fraction: float) -> int:
    """Inputs of ``n`` kept out of training for calibration: 0 for ``fraction`` 0, else at least 2."""
    return 0 if fraction == 0 else max(2, int(round(fraction * n)))


def split_normal(x: Tensor, holdout_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """(training part, held-out part) of normal inputs ``x [N, ...]``: a seeded permutation, the first
    :func:`holdout_size` held out (without a holdout both parts are all of x), so every detector with the
    same ``seed`` and ``holdout_fraction`` (an ensemble's members) splits alike. One-line ValueError when fewer
    than 2 would be left to train on (position statistics and a training batch need two)."""
    n_hold = holdout_size(len(x), holdout_fraction)
    if len(x) - n_hold < 2:
        raise ValueError(f"X: {len(x)} inputs are too few to train and calibrate on (need at least "
                         f"{n_hold + 2}: 2 to train on, {n_hold} held out)")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return (x[order[n_hold:]], x[order[:n_hold]]) if n_hold else (x, x)


def check_varied(x: Tensor) -> None:
    """One-line ValueError when every normal input of ``x`` is the same: no spread to calibrate on, every
    score would tie at the threshold."""
    if bool((x == x[:1]).all()):
        raise ValueError(f"X: all {len(x)} normal inputs are identical; a detector needs normal inputs that vary")


class CalibratedDetector:
    """PyOD's scoring interface over a fitted calibration, shared by the single-score detectors and the
    ensemble: subclasses provide ``config.calibration``, ``calibration_``, ``_check_fitted()``,
    ``score_samples(X)`` (features the calibration reads) and ``state()`` (what ``save`` writes); single-score
    detectors also ``_score_working(x)`` (inputs already at the working size) for :meth:`calibrate_part`."""

    @property
    def contamination(self) -> float:
        return self.config.calibration.contamination

    @property
    def threshold_(self) -> float:
        self._check_fitted()
        return self.calibration_.threshold

    def decision_function(self, X: Any) -> np.ndarray:
        """Calibrated raw anomaly scores ``[N]``, higher = more anomalous."""
        self._check_fitted()
        return self.calibration_.score(self.score_samples(X).features.numpy())

    def predict(self, X: Any) -> np.ndarray:
        """0 (normal) / 1 (anomaly) per input, ``score > threshold_``."""
        return self.calibration_.predict(self.decision_function(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[N, 2]``: (1 − p, p) with p the normalised score (0.5 at the threshold)."""
        p = self.calibration_.normalise(self.decision_function(X))
        return np.stack([1 - p, p], 1)

    def calibrate_part(self, x: Any, hold_x: Tensor, *, val_X: Any = None, val_y: Any = None,
                       on_score_batch: Optional[Callable[[int, int], None]] = None) -> "CalibratedDetector":
        """The calibration half of ``fit``: score the held-out part (``hold_x``, at the working size, as
        ``train_part`` returns it), fit the calibration (with the validation set for the ``f1`` rule), keep
        the mean |map| and |frame score| of the held-out inputs (the units an ensemble shows them in), score
        all of ``x`` (as given to ``train_part``) for ``decision_scores_``."""
        c = self.config
        val = as_inputs(val_X) if val_X is not None else None
        total = len(hold_x) + len(x) + (len(val) if val is not None else 0)
        tick = None if on_score_batch is None else (lambda n: on_score_batch(n, total))
        hold = self._score_working(hold_x, tick)
        val_features = self.score_samples(val, tick).features.numpy() if val is not None else None
        self.calibration_ = calibrate(hold.features.numpy(), c.calibration, val_features=val_features,
                                      val_labels=None if val_y is None else np.asarray(val_y))
        self.calibration_scores_ = self.calibration_.score(hold.features.numpy())
        self.map_scale_ = None if hold.map is None else float(hold.map.abs().mean())
        hold_frames = frame_scores(hold)
        self.frame_scale_ = None if hold_frames is None else float(hold_frames.abs().mean())
        self.decision_scores_ = self.calibration_.score(self.score_samples(x, tick).features.numpy())
        self.labels_ = self.calibration_.predict(self.decision_scores_)
        return self

    def save(self, path: Path | str) -> Path:
        """Write :meth:`state` (weights, configs, calibration) to ``path`` atomically."""
        from sciffusion.common.io.atomic import atomic_path

        with atomic_path(path, overwrite=True) as tmp:
            torch.save(self.state(), tmp)
        return Path(path)


class DiffusionAnomalyDetector(CalibratedDetector):
    """PyOD-style detector (module docstring). ``contamination`` overrides the calibration's."""

    def __init__(self, contamination: Optional[float] = None, config: DetectorConfig = DetectorConfig()):
        if config.score.kind in NO_NETWORK_SCORES:
            raise ValueError(f"score {config.score.kind!r}: uses no network (PixelGaussianDetector, or make_detector)")
        if contamination is not None:
            config = dataclasses.replace(config, calibration=dataclasses.replace(config.calibration,
                                                                                 contamination=contamination))
        self.config = config
        self.module_ = None
        self.net_config_: Optional[DenoiserNetConfig] = None
        self.calibration_: Optional[Calibration] = None
        self.bank_: Optional[FeatureBank] = None
        self.map_scale_: Optional[float] = None  # mean |map| of the calibration inputs (None: no map)
        self.frame_scale_: Optional[float] = None  # mean |frame score| of the calibration clips (None: none)
        self.input_shape_: Optional[tuple[int, ...]] = None  # one input as given; the network's may be smaller

    @property
    def score_name(self) -> str:
        """The score kind (an ensemble joins its members' with ``+``)."""
        return self.config.score.kind

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input the detector was fitted on (no batch axis); the network may work at a
        smaller H, W (:attr:`working_shape`)."""
        if self.net_config_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")
        return tuple(self.input_shape_ or self.net_config_.sample_shape)

    @property
    def working_shape(self) -> tuple[int, ...]:
        """The shape of one input as the network sees it."""
        if self.net_config_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")
        return tuple(self.net_config_.sample_shape)

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, net_config: Optional[DenoiserNetConfig] = None,
            init_state: Optional[dict[str, Tensor]] = None, val_X: Any = None, val_y: Any = None,
            progress: bool = False,
            on_score_batch: Optional[Callable[[int, int], None]] = None) -> "DiffusionAnomalyDetector":
        """Train on normal ``X`` (``y`` is ignored, as in PyOD), calibrate on its held-out part.

        net_config: the network (default: chosen from X's shape, at the working size of
        ``config.max_side``; a given network works at its own ``sample_shape``, X's or smaller, and X is
        area-averaged to it); init_state: weights to start from (fine-tuning). val_X/val_y: a labelled validation set for the ``f1`` threshold rule.
        progress: a training progress bar. on_score_batch(n, total): called after each scored batch of
        the calibration stage (held-out part, validation set, all of X), ``total`` inputs in all.
        """
        inputs = as_inputs(X)
        hold_x = self.train_part(inputs, net_config=net_config, init_state=init_state, progress=progress)
        return self.calibrate_part(inputs, hold_x, val_X=val_X, val_y=val_y, on_score_batch=on_score_batch)

    def train_part(self, X: Any, *, net_config: Optional[DenoiserNetConfig] = None,
                   init_state: Optional[dict[str, Tensor]] = None, progress: bool = False) -> Tensor:
        """The training half of :meth:`fit`: split ``X`` (float32 ``[N, ...]``, or
        :class:`~.resolution.ReducedInputs` already at the network's size), train the network (and
        build the feature banks) on the training part; returns the held-out part (all of X without a
        holdout), at the working size. An ensemble trains every member before it scores any."""
        inputs = as_inputs(X)
        in_shape = inputs.input_shape
        net_config = net_config or DenoiserNetConfig(self.config.working_shape(in_shape))
        check_working_shape(in_shape, tuple(net_config.sample_shape))
        self.input_shape_ = in_shape
        x = held_at(inputs, tuple(net_config.sample_shape))
        self.config = c = dataclasses.replace(self.config, score=self.config.score.for_shape(tuple(x.shape[1:])))
        train_x, hold_x = split_normal(x, c.holdout_fraction, c.seed)
        self.net_config_ = self._network_for(net_config)
        if tuple(self.net_config_.sample_shape) != tuple(x.shape[1:]):
            raise ValueError(f"X: inputs of shape {list(x.shape[1:])}, the network expects "
                             f"{list(self.net_config_.sample_shape)}")
        check_varied(x)
        torch.manual_seed(c.seed)  # network initialisation (and the training windows' draws)
        net = self.net_config_.build()
        if init_state is not None:
            net.load_state_dict(init_state)
        windows = (self.net_config_.context_frames, self.net_config_.target_frames) \
            if self.net_config_.context_frames else None
        self.module_, self.fit_report_ = train_denoiser(net, train_x, c.train, minutes=c.minutes,
                                                        max_steps=c.max_steps, batch_size=c.batch_size,
                                                        seed=c.seed, progress=progress, windows=windows,
                                                        precision=c.precision)
        self.bank_ = self._build_bank(train_x)
        return hold_x

    def _network_for(self, net_config: DenoiserNetConfig) -> DenoiserNetConfig:
        """``net_config`` as the score needs it: a ``predictive`` score needs a context denoiser with the
        score's context and target frames (added to a plain clip network; a different one is refused),
        every other score a network without context (an external context network in its unconditional form,
        :meth:`DenoiserNetConfig.unconditional`; the weights are the same)."""
        score = self.config.score.for_shape(tuple(net_config.sample_shape))
        if score.kind != "predictive":
            if net_config.context_frames and net_config.external is None:
                raise ValueError(f"score {score.kind!r}: needs an unconditional network, the given one is a "
                                 f"context denoiser (use the 'predictive' score)")
            if net_config.context_frames:
                try:
                    return net_config.unconditional()
                except ValueError as exc:
                    raise ValueError(f"score {score.kind!r}: {exc}") from None
            return net_config
        if len(net_config.sample_shape) != 4:
            raise ValueError(f"score 'predictive': needs clips [N, C, T, H, W], got inputs of shape "
                             f"{list(net_config.sample_shape)}")
        wanted = (score.context_frames, score.target_frames)
        if net_config.context_frames == 0 and net_config.unet is None and net_config.external is None:
            return dataclasses.replace(net_config, context_frames=wanted[0], target_frames=wanted[1])
        if (net_config.context_frames, net_config.target_frames) != wanted:
            raise ValueError(f"score 'predictive': {wanted[0]} context and {wanted[1]} target frames, the network "
                             f"has {net_config.context_frames} and {net_config.target_frames}")
        return net_config

    def _build_bank(self, train_x: Tensor) -> Optional[FeatureBank]:
        """The ``features`` score's memory banks of the training inputs (None for the other kinds)."""
        from sciffusion.common.anomaly.embedding import build_bank
        from sciffusion.common.anomaly.networks import feature_layer, shallow_layer

        score = self.config.score
        if score.kind != "features":
            return None
        net = self.module_.ema.shadow
        return build_bank(self.denoiser(), feature_layer(net), train_x,
                          score.feature_sigmas(), self.config.score_batch_size, score.bank_size,
                          patch_bank_for(score, tuple(train_x.shape[1:])), self.config.seed,
                          shallow=shallow_layer(net) if positions_for(score, tuple(train_x.shape[1:])) else None,
                          whole=whole_input_for(score, tuple(train_x.shape[1:])),
                          pixels=pixels_for(score, tuple(train_x.shape[1:])))

    # ---- scoring -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.module_ is None or self.calibration_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")

    def denoiser(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The trained EMA denoiser ``(x [B, ...], sigma [B]) -> x0``."""
        if self.module_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")
        return self.module_.denoiser(use_ema=True)

    def score_samples(self, X: Any, on_batch: Optional[Callable[[int], None]] = None) -> AnomalyScores:
        """Uncalibrated scores (features, raw scalar, NFE per input, dense map at the inputs' H, W) of
        ``X [N, ...]`` in batches of ``score_batch_size``; ``on_batch(n)`` is called after each batch of
        n inputs."""
        inputs = as_inputs(X)
        if self.net_config_ is not None and inputs.input_shape != self.sample_shape:
            raise ValueError(f"X: inputs of shape {list(inputs.input_shape)}, the detector was fitted on "
                             f"{list(self.sample_shape)}")
        scores = self._score_working(held_at(inputs, self.working_shape), on_batch)
        size = ((len(inputs),) + inputs.input_shape)[-2:]  # H, W (vectors: their map is [N, d] as it is)
        return dataclasses.replace(scores, map=map_to_input(scores.map, tuple(size)))

    def _score_working(self, x: Tensor, on_batch: Optional[Callable[[int], None]] = None) -> AnomalyScores:
        """:meth:`score_samples` of inputs already at the working size (maps at that size too)."""
        denoise, device = self.denoiser(), self.module_.device
        g = torch.Generator().manual_seed(self.config.score.seed)
        layer = shallow = None
        if self.config.score.kind == "features":
            from sciffusion.common.anomaly.networks import feature_layer, shallow_layer

            layer, shallow = feature_layer(self.module_.ema.shadow), shallow_layer(self.module_.ema.shadow)
        module = self.module_
        context_denoise = (lambda xt, sigma, context: module.denoise(xt, sigma, context, use_ema=True)) \
            if self.config.score.kind == "predictive" else None

        def score(chunk: Tensor) -> AnomalyScores:
            s = compute_scores(denoise, chunk.to(device), self.config.score, generator=g, layer=layer,
                               bank=getattr(self, "bank_", None), context_denoise=context_denoise, shallow=shallow)
            return AnomalyScores(s.features.cpu(), s.names, s.score.cpu(), s.nfe,
                                 None if s.map is None else s.map.float().cpu(),
                                 None if s.frames is None else s.frames.float().cpu())

        return score_in_batches(x, self.config.score_batch_size, score, on_batch)

    # ---- files ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything :meth:`from_state` needs, as tensors and plain containers (weights-only loadable)."""
        self._check_fitted()
        return {"kind": FILE_KIND, "format_version": FILE_VERSION, "config": self.config.to_dict(),
                "net": self.net_config_.to_dict(), "calibration": self.calibration_.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in self.module_.ema.shadow.state_dict().items()},
                "fit_report": dataclasses.asdict(self.fit_report_) if hasattr(self, "fit_report_") else None,
                "bank": None if getattr(self, "bank_", None) is None else self.bank_.to_dict(),
                "map_scale": getattr(self, "map_scale_", None), "frame_scale": getattr(self, "frame_scale_", None),
                "input_shape": None if self.input_shape_ is None else list(self.input_shape_)}

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str = "detector") -> "DiffusionAnomalyDetector":
        from sciffusion.common.io.checkpoint import check_file_kind
        from sciffusion.common.training import DiffusionModule

        check_file_kind(state, source, FILE_KIND, FILE_VERSION, "detector", "sciffusion ood fit")
        det = cls(config=DetectorConfig.from_dict(state["config"]))
        net_cfg = state["net"]
        det.net_config_ = DenoiserNetConfig(**{**net_cfg, "sample_shape": tuple(net_cfg["sample_shape"])})
        det.input_shape_ = tuple(state.get("input_shape") or det.net_config_.sample_shape)  # older files: one size
        net = det.net_config_.build()
        net.load_state_dict(state["state_dict"])
        det.module_ = DiffusionModule(net, det.config.train).eval()
        det.calibration_ = Calibration.from_dict(state["calibration"])
        if state.get("fit_report"):
            det.fit_report_ = FitReport(**state["fit_report"])
        det.bank_ = FeatureBank.from_saved(state.get("bank"))
        det.map_scale_ = state.get("map_scale")
        det.frame_scale_ = state.get("frame_scale", det.map_scale_)  # older files: frame scores were map means
        if det.config.score.kind == "features" and det.bank_ is None:
            raise ValueError(f"{source}: a 'features' detector without its memory bank")
        return det

    @classmethod
    def load(cls, path: Path | str, map_location: Any = "cpu") -> "DiffusionAnomalyDetector":
        """Read a detector written by :meth:`save` (weights-only load)."""
        from sciffusion.common.io.checkpoint import load_checkpoint

        return cls.from_state(load_checkpoint(path, map_location=map_location), str(path))


__all__ = ["CalibratedDetector", "DetectorConfig", "DiffusionAnomalyDetector", "FILE_KIND", "FILE_VERSION", "as_inputs", "as_tensor", "check_varied",
           "holdout_size", "split_normal"]
