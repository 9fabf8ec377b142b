"""Several diffusion detectors on the same normal data, one calibration over their scores (PyOD-compatible).

No single diffusion score sees every kind of anomaly (docs/ood.md): on clips the ``predictive`` score
(the error of a next-frame denoiser) finds motion that breaks physics and misses odd content, and the
``features`` score (distances of the denoiser's activations to normal ones) does the opposite, and where
the camera is fixed the ``pixels`` score (no network) beats both. An :class:`EnsembleDetector` fits one
detector per member config (:func:`make_detector`: a
:class:`~sciffusion.common.anomaly.detector.DiffusionAnomalyDetector` with its own network, or a
:class:`~sciffusion.common.anomaly.pixel_detector.PixelGaussianDetector`), then calibrates once on the
member scores, as PyOD's
score combination does (Aggarwal & Sathe 2015; ``pyod.models.combination``):

1. every member is fitted on the same training part of X and calibrated on the same held-out part
   (members share ``seed`` and ``holdout_fraction``, so the split is the same);
2. the member scores of the held-out inputs ``[N_hold, M]`` (raw, higher = more anomalous) are the
   feature vector of one :func:`~sciffusion.common.anomaly.calibration.calibrate`: z-scored with the
   held-out mean and std, combined by the density (default ``softmax``, :data:`DEFAULT_COMBINATION`: the
   log-sum-exp of the z, a smooth version of ``max``, PyOD's maximization, in which the member that departs
   most from normal decides; ``mean``: PyOD's average), thresholded by the usual rules.

PyOD's attributes hold for the ensemble: ``decision_scores_`` (all of X), ``threshold_`` (the
(1 − contamination) quantile of the combined held-out scores), ``labels_``, ``contamination``. NFE per
input is the sum of the members'. ``score_samples`` returns the member scores as the features (named by
score kind) and, per input, the dense map of the member that decides (largest z among the members with a
map), in units of that member's mean |map| on the calibration inputs.
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
from sciffusion.common.anomaly.detector import (CalibratedDetector, DetectorConfig, DiffusionAnomalyDetector, as_inputs,
                                                holdout_size)
from sciffusion.common.anomaly.features import AnomalyScores, frame_scores
from sciffusion.common.anomaly.networks import DenoiserNetConfig
from sciffusion.common.anomaly.pixel_detector import FILE_KIND as PIXEL_FILE_KIND
from sciffusion.common.anomaly.pixel_detector import PIXEL_SCORE
from sciffusion.common.anomaly.pixel_detector import PixelGaussianDetector
from sciffusion.common.anomaly.score_config import NO_NETWORK_SCORES
from sciffusion.common.anomaly.training import FitReport

FILE_KIND, FILE_VERSION = "sciffusion-anomaly-ensemble", 1
MEMBER_SEPARATOR = "+"
DEFAULT_COMBINATION = "softmax"
"""How the members' z-scores are combined unless told otherwise: their log-sum-exp, a smooth max (since session
40; before, ``max``). Measured on one fit per set, the same members combined both ways (docs/ood.md,
twenty-fifth round): driving 0.874 → 0.898 (seed 1: 0.910 → 0.923), unseen digits 0.631 → 0.640, impossible
motion 0.9979 → 0.9977."""


def _default_calibration() -> CalibrationConfig:
    return CalibrationConfig(density=DEFAULT_COMBINATION)


@dataclass(frozen=True)
class EnsembleConfig:
    """Member detector settings (at least two, distinct score kinds, same ``seed`` and
    ``holdout_fraction``) and the calibration of their combined scores (module docstring)."""

    members: tuple[DetectorConfig, ...]
    calibration: CalibrationConfig = field(default_factory=_default_calibration)

    def __post_init__(self) -> None:
        members = tuple(self.members)
        object.__setattr__(self, "members", members)
        kinds = [m.score.kind for m in members]
        if len(members) < 2 or len(set(kinds)) != len(kinds):
            raise ValueError(f"ensemble: need at least two distinct score kinds, got {MEMBER_SEPARATOR.join(kinds)}")
        if len({(m.seed, m.holdout_fraction) for m in members}) != 1:
            raise ValueError("ensemble: the members must share seed and holdout_fraction (one calibration split)")

    @property
    def name(self) -> str:
        """The members' score kinds joined by ``+`` (e.g. ``features+predictive``)."""
        return MEMBER_SEPARATOR.join(m.score.kind for m in self.members)

    def nfe_for(self, sample_shape: tuple[int, ...]) -> int:
        """Denoiser calls per input of ``sample_shape``: the sum over the members."""
        return sum(m.nfe_for(sample_shape) for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        return {"members": [m.to_dict() for m in self.members], "calibration": self.calibration.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EnsembleConfig":
        return cls(tuple(DetectorConfig.from_dict(m) for m in d["members"]), CalibrationConfig(**d["calibration"]))


Member = DiffusionAnomalyDetector | PixelGaussianDetector


def make_detector(config: "DetectorConfig | EnsembleConfig", contamination: Optional[float] = None):
    """The detector of ``config``: an :class:`EnsembleDetector` for an :class:`EnsembleConfig`, a
    :class:`~sciffusion.common.anomaly.pixel_detector.PixelGaussianDetector` for the ``pixels`` and
    ``statistics`` scores (no network), a :class:`~sciffusion.common.anomaly.detector.DiffusionAnomalyDetector`
    otherwise."""
    if isinstance(config, EnsembleConfig):
        return EnsembleDetector(contamination, config)
    if config.score.kind in NO_NETWORK_SCORES:
        return PixelGaussianDetector(contamination, config)
    return DiffusionAnomalyDetector(contamination, config)


def _member_network(member: Member, net_config: Optional[DenoiserNetConfig],
                    shape: tuple[int, ...]) -> tuple[Optional[DenoiserNetConfig], bool]:
    """(network config, takes the given weights) of one member: the given ``net_config`` when the
    member's score uses it as it is (or, for an external network, in its other form: a context network
    unconditional, :meth:`~sciffusion.common.anomaly.networks.DenoiserNetConfig.unconditional`), else a fresh
    default network of the same width and working size (none given: the member's working size for
    inputs of ``shape``). A member with no network (``pixels``, ``statistics``) gets the given config only
    for its working size, and never the weights."""
    if isinstance(member, PixelGaussianDetector):
        return net_config, False
    if net_config is None:
        return DenoiserNetConfig(member.config.working_shape(shape)), False
    try:
        adapted = member._network_for(net_config)
        same_weights = adapted.external is not None and (adapted.external, adapted.external_config) == \
            (net_config.external, net_config.external_config)  # an external network's other form
        if adapted == net_config or same_weights:
            return adapted, True
    except ValueError:
        pass
    return DenoiserNetConfig(tuple(net_config.sample_shape), base_channels=net_config.base_channels,
                             depth=net_config.depth), False


class EnsembleDetector(CalibratedDetector):
    """PyOD-style detector over several diffusion scores (module docstring). ``contamination``
    overrides the ensemble calibration's."""

    def __init__(self, contamination: Optional[float] = None, config: Optional[EnsembleConfig] = None):
        if config is None:
            raise ValueError("ensemble: needs an EnsembleConfig with its members")
        if contamination is not None:
            config = dataclasses.replace(config, calibration=dataclasses.replace(config.calibration,
                                                                                 contamination=contamination))
        self.config = config
        self.members_: list[Member] = []
        self.calibration_: Optional[Calibration] = None

    @property
    def score_name(self) -> str:
        return self.config.name

    @property
    def sample_shape(self) -> tuple[int, ...]:
        self._check_fitted()
        return self.members_[0].sample_shape

    @property
    def working_shape(self) -> tuple[int, ...]:
        """The size the members' networks see an input at when they all share one, else the inputs'
        own (:attr:`sample_shape`): the size to hand :class:`~.resolution.ReducedInputs` at."""
        self._check_fitted()
        shapes = {m.working_shape for m in self.members_}
        return shapes.pop() if len(shapes) == 1 else self.sample_shape

    @property
    def fit_report_(self) -> FitReport:
        """The members' training together: steps and seconds summed, ``stopped_by`` joined by ``+``, the
        precisions the trained members ran in (distinct ones joined by ``+``)."""
        self._check_fitted()
        reports = [m.fit_report_ for m in self.members_ if hasattr(m, "fit_report_")]
        if not reports:
            raise AttributeError("fit_report_")
        precisions = sorted({r.precision for r in reports if r.precision is not None})
        return FitReport(sum(r.steps for r in reports), sum(r.seconds for r in reports),
                         MEMBER_SEPARATOR.join(r.stopped_by for r in reports), None, reports[0].inputs,
                         MEMBER_SEPARATOR.join(precisions) or None)

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, net_config: Optional[DenoiserNetConfig] = None,
            init_state: Optional[dict[str, Tensor]] = None, val_X: Any = None, val_y: Any = None,
            progress: bool = False, on_score_batch: Optional[Callable[[int, int], None]] = None) -> "EnsembleDetector":
        """Fit every member on normal ``X`` (``y`` ignored, as in PyOD), then calibrate their scores.

        net_config/init_state: a network (and weights, for fine-tuning) for the members whose score
        uses it as it is; the others get a fresh network of the same width (with ``init_state``, at
        least one member must take it). val_X/val_y: labelled validation inputs for the ``f1`` rule.
        on_score_batch(n, total): after each scored batch of every member and of the validation set.
        """
        x = as_inputs(X)
        shape = x.input_shape
        members = [make_detector(m) for m in self.config.members]
        networks = [_member_network(m, net_config, shape) for m in members]
        if init_state is not None and not any(takes for _, takes in networks):
            raise ValueError(f"--model: its network serves none of the scores {self.score_name}")
        val = as_inputs(val_X) if val_X is not None else None
        n_hold = holdout_size(len(x), self.config.members[0].holdout_fraction)
        total = len(members) * (n_hold or len(x)) + len(members) * len(x) + \
            (len(members) * len(val) if val is not None else 0)
        tick = None if on_score_batch is None else (lambda n, _total: on_score_batch(n, total))
        held_out = [member.train_part(x, net_config=net, init_state=init_state if takes else None, progress=progress)
                    for member, (net, takes) in zip(members, networks)]  # every training before any scoring
        for member, hold_x in zip(members, held_out):
            member.calibrate_part(x, hold_x, on_score_batch=tick)
        self.members_ = members
        self.config = dataclasses.replace(self.config, members=tuple(m.config for m in members))  # automatic settings fixed
        val_features = None
        if val is not None:
            val_features = np.stack([m.calibration_.score(m.score_samples(
                val, None if tick is None else (lambda n: tick(n, total))).features.numpy()) for m in members], 1)
        return self._combine(val_features, None if val_y is None else np.asarray(val_y))

    def _combine(self, val_features: Optional[np.ndarray] = None, val_labels: Optional[np.ndarray] = None
                 ) -> "EnsembleDetector":
        """Calibrate ``config.calibration`` on the fitted members' held-out scores ``[N_hold, M]``, and set
        PyOD's attributes from their scores of all of X (module docstring, step 2)."""
        hold = np.stack([m.calibration_scores_ for m in self.members_], 1)
        self.calibration_ = calibrate(hold, self.config.calibration, val_features=val_features, val_labels=val_labels)
        self.calibration_scores_ = self.calibration_.score(hold)
        self.decision_scores_ = self.calibration_.score(np.stack([m.decision_scores_ for m in self.members_], 1))
        self.labels_ = self.calibration_.predict(self.decision_scores_)
        return self

    def recombined(self, density: str) -> "EnsembleDetector":
        """A copy of this fitted ensemble whose members' scores are combined by ``density`` (a
        :data:`~sciffusion.common.anomaly.calibration.DENSITY_KINDS` name) instead: the same members,
        untouched, and a calibration refitted on the same held-out member scores, with the same threshold
        rule and contamination. No training and no scoring, so two combination rules can be compared on
        one fit. The ``f1`` threshold rule is refused: its labelled validation scores are not kept."""
        self._check_fitted()
        if self.config.calibration.threshold == "f1":
            raise ValueError("recombined: the f1 threshold rule needs fit's labelled validation set; refit instead")
        if any(getattr(m, "calibration_scores_", None) is None for m in self.members_):
            raise ValueError("recombined: needs the members' held-out scores from fit, which a loaded detector does "
                             "not keep; refit with the density instead")
        calibration = dataclasses.replace(self.config.calibration, density=density)
        other = EnsembleDetector(config=dataclasses.replace(self.config, calibration=calibration))
        other.members_ = list(self.members_)
        return other._combine()

    # ---- scoring -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.members_ or self.calibration_ is None:
            raise ValueError("detector: not fitted (call fit or load first)")

    def score_samples(self, X: Any, on_batch: Optional[Callable[[float], None]] = None) -> AnomalyScores:
        """Member scores ``[N, M]`` as features (uncalibrated for the ensemble, calibrated per member),
        NFE the sum over members, the deciding member's map and frame scores (:meth:`_deciding`).
        ``on_batch(n)`` is called after each member batch with n / M, so a bar over N inputs ends at N."""
        self._check_fitted()
        x = as_inputs(X)
        share = None if on_batch is None else (lambda n: on_batch(n / len(self.members_)))
        parts = [m.score_samples(x, share) for m in self.members_]
        features = torch.from_numpy(np.stack([m.calibration_.score(p.features.numpy())
                                              for m, p in zip(self.members_, parts)], 1))
        member_scores = features.numpy()
        return AnomalyScores(features, tuple(m.score_name for m in self.members_), features.sum(1),
                             sum(p.nfe for p in parts),
                             self._deciding(member_scores, [p.map for p in parts], "map_scale_"),
                             self._deciding(member_scores, [frame_scores(p) for p in parts], "frame_scale_"))

    def _deciding(self, member_scores: np.ndarray, dense: list[Optional[Tensor]], scale: str) -> Optional[Tensor]:
        """Per input, the dense output (map or frame scores) of the member with the largest z-scored
        score among those that have one (the member that decides under ``max``), divided by that member's
        mean |value| on its calibration inputs (attribute ``scale``), so outputs of different members
        share one scale (normal ≈ 1). None when no member has one."""
        with_dense = [j for j, d in enumerate(dense) if d is not None]
        if not with_dense:
            return None
        if len({tuple(dense[j].shape) for j in with_dense}) != 1:  # different layouts: the first member's
            return dense[with_dense[0]]
        z = self.calibration_.zscore(member_scores)[:, with_dense]
        pick = np.asarray(with_dense)[z.argmax(1)]
        scaled = torch.stack([dense[j] / (getattr(self.members_[j], scale, None) or 1.0) for j in with_dense])
        rank = {j: r for r, j in enumerate(with_dense)}
        index = torch.tensor([rank[int(j)] for j in pick])
        return scaled[index, torch.arange(len(index))]

    # ---- files ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Every member's state, the ensemble config and calibration (weights-only loadable). Gaussians that
        two members hold identically (the ``features`` member's pixel Gaussians and the ``pixels`` member's,
        fitted on the same training inputs) are written once (:func:`_shared_gaussians`)."""
        self._check_fitted()
        return {"kind": FILE_KIND, "format_version": FILE_VERSION, "config": self.config.to_dict(),
                "members": _shared_gaussians([m.state() for m in self.members_]),
                "calibration": self.calibration_.to_dict()}

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str = "detector") -> "EnsembleDetector":
        from sciffusion.common.io.checkpoint import check_file_kind

        check_file_kind(state, source, FILE_KIND, FILE_VERSION, "ensemble detector", "sciffusion ood fit")
        det = cls(config=EnsembleConfig.from_dict(state["config"]))
        members = _restore_shared_gaussians(state["members"], source)
        det.members_ = [_member_from_state(m, f"{source} (member {i})") for i, m in enumerate(members)]
        det.calibration_ = Calibration.from_dict(state["calibration"])
        if len({m.sample_shape for m in det.members_}) != 1:
            raise ValueError(f"{source}: the members were fitted on inputs of different shapes")
        return det


SHARED_KEY = "same_as_member"
"""In a member's saved feature bank: ``{"same_as_member": j}`` stands for member j's ``gaussians``."""


def _same_saved(a: Any, b: Any) -> bool:
    """Whether two saved Gaussians (:meth:`PositionGaussians.to_dict`) hold the same tensors exactly."""
    return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
        isinstance(a[k], Tensor) and isinstance(b[k], Tensor) and a[k].dtype == b[k].dtype and torch.equal(a[k], b[k])
        for k in a)  # torch.equal is False for different shapes


def _shared_gaussians(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The member states with each feature bank's pixel Gaussians that equal a ``pixels`` member's Gaussians
    exactly replaced by ``{SHARED_KEY: j}`` (j: that member): an ``auto`` clip detector held the same
    per-position Gaussians twice (6 MB each for 64-px RGB clips). Banks fitted on a subset (more training
    inputs than the bank size) differ and are kept."""
    owners = [j for j, st in enumerate(states) if st.get("kind") == PIXEL_FILE_KIND
              and st.get("config", {}).get("score", {}).get("kind") == PIXEL_SCORE]
    out = []
    for st in states:
        bank = st.get("bank")
        pixels = bank.get("pixels") if isinstance(bank, dict) else None
        owner = next((j for j in owners if _same_saved(pixels, states[j].get("gaussians"))), None)
        if owner is not None:
            st = {**st, "bank": {**bank, "pixels": {SHARED_KEY: owner}}}
        out.append(st)
    return out


def _restore_shared_gaussians(states: list[Any], source: str) -> list[Any]:
    """:func:`_shared_gaussians` undone: each ``{SHARED_KEY: j}`` becomes member j's saved Gaussians."""
    out = []
    for i, st in enumerate(states):
        bank = st.get("bank") if isinstance(st, dict) else None
        pixels = bank.get("pixels") if isinstance(bank, dict) else None
        if isinstance(pixels, dict) and SHARED_KEY in pixels:
            j = pixels[SHARED_KEY]
            owner = states[j] if isinstance(j, int) and 0 <= j < len(states) and j != i else None
            if not isinstance(owner, dict) or owner.get("gaussians") is None:
                raise ValueError(f"{source} (member {i}): its pixel Gaussians refer to member {j}, which has none")
            st = {**st, "bank": {**bank, "pixels": owner["gaussians"]}}
        out.append(st)
    return out


def _member_from_state(state: Any, source: str) -> Member:
    """A single-score detector from its state: a pixel detector or a diffusion one (the ``kind`` decides)."""
    if isinstance(state, dict) and state.get("kind") == PIXEL_FILE_KIND:
        return PixelGaussianDetector.from_state(state, source)
    return DiffusionAnomalyDetector.from_state(state, source)


def load_any_detector(path: Path | str, map_location: Any = "cpu"):
    """A :class:`DiffusionAnomalyDetector`, a :class:`PixelGaussianDetector` or an :class:`EnsembleDetector`
    from a file written by its ``save`` (weights-only load; the file's ``kind`` decides)."""
    from sciffusion.common.io.checkpoint import load_checkpoint

    state = load_checkpoint(path, map_location=map_location)
    if isinstance(state, dict) and state.get("kind") == FILE_KIND:
        return EnsembleDetector.from_state(state, str(path))
    return _member_from_state(state, str(path))


__all__ = ["EnsembleConfig", "EnsembleDetector", "FILE_KIND", "FILE_VERSION", "MEMBER_SEPARATOR", "SHARED_KEY",
           "load_any_detector", "make_detector"]
