"""``sciffusion ood fit``: train (or fine-tune) a diffusion anomaly detector on normal data and save it.

Writes ``DIR/`` atomically: ``detector.pt`` (weights, configs, calibration;
:class:`~sciffusion.common.anomaly.DiffusionAnomalyDetector`), ``config.json`` (the resolved run
config) and ``fit.json`` (training steps and time, threshold and its rule, NFE per input, input shape).
Inputs with labels are fitted on their normal part only (label 0).
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from sciffusion.common.anomaly import (CalibrationConfig, DenoiserNetConfig, DetectorConfig, EnsembleConfig,
                                       ScoreConfig)
from sciffusion.common.anomaly.ensemble import DEFAULT_COMBINATION
from sciffusion.common.anomaly.score_config import NO_NETWORK_SCORES
from sciffusion.common.training.config import TrainConfig

if TYPE_CHECKING:
    from sciffusion.pipelines.ood.footage import FootageClips

DETECTOR_FILE = "detector.pt"
AUTO_SCORE = "auto"
AUTO_CLIP_SCORE = "features+predictive+pixels+statistics"  # what --score auto means for clips (docs/ood.md)
DetectorSettings = DetectorConfig | EnsembleConfig
DEFAULT_FOOTAGE_SIZE = 64  # px, H = W of footage frames when --image-size is not given


def score_members(score: str) -> tuple[str, ...]:
    """The score kinds of ``--score``: one kind, or several joined by ``+`` (an ensemble, e.g.
    ``features+predictive``); one-line ValueError for an unknown or repeated kind."""
    from sciffusion.common.anomaly import SCORE_KINDS

    kinds = tuple(part.strip() for part in score.split("+"))
    bad = [k for k in kinds if k not in SCORE_KINDS]
    if bad or len(set(kinds)) != len(kinds):
        raise ValueError(f"--score: need {AUTO_SCORE}, one of {', '.join(SCORE_KINDS)}, or distinct ones joined "
                         f"by '+', got {score!r}")
    return kinds


def resolve_score(score: str, sample_shape: tuple[int, ...], context_frames: int = 3,
                  target_frames: Optional[int] = 1) -> str:
    """The score ``--score auto`` means for inputs of ``sample_shape``: the
    ``features+predictive+pixels+statistics`` ensemble for clips ``[C, T, H, W]`` long enough for one
    predictive window (content, motion, what a fixed camera sees at each place, and how much there is and
    moves in the whole clip: the pixels member since session 35, the statistics member since session 36),
    ``features`` otherwise (measured in docs/ood.md); any other ``score`` is returned as it is."""
    if score != AUTO_SCORE:
        return score
    clips = len(sample_shape) == 4 and sample_shape[1] >= context_frames + (target_frames or 1)
    return AUTO_CLIP_SCORE if clips else "features"


@dataclass(frozen=True)
class OODFitConfig:
    """Data, output folder, optional checkpoint to fine-tune (a detector file, or a DiffusionModule
    Lightning checkpoint with a ``config.json`` holding ``net``, a U-Net config, beside it), the detector
    settings (one score, or an :class:`~sciffusion.common.anomaly.EnsembleConfig`; ``clip_detector``:
    the settings for clip inputs when they differ, as ``--score auto`` makes them), the U-Net width, an
    optional labelled validation set for the ``f1`` threshold rule."""

    data: Path
    out: Path
    detector: DetectorSettings = field(default_factory=DetectorConfig)
    clip_detector: Optional[DetectorSettings] = None
    clip_detector_error: Optional[str] = None
    model: Optional[Path] = None
    base_channels: int = 32
    val_data: Optional[Path] = None
    label_names: tuple[str, ...] = ()
    trust_checkpoint: bool = False
    overwrite: bool = False
    image_size: Optional[int] = None
    clip_frames: Optional[int] = None
    clip_stride: Optional[int] = None
    frame_fit: str = "crop"
    channels: Optional[int] = None

    def __post_init__(self) -> None:
        if self.base_channels < 8 or self.base_channels % 8:
            raise ValueError(f"--base-channels: must be a multiple of 8, got {self.base_channels}")
        if self.image_size is not None and self.image_size < 4:
            raise ValueError(f"--image-size: must be >= 4 px, got {self.image_size}")
        if self.clip_frames is None and (self.clip_stride is not None or self.channels is not None):
            raise ValueError(f"--{'clip-stride' if self.clip_stride is not None else 'channels'}: only with "
                             "--clip-frames (footage cut into clips)")
        self.footage  # noqa: B018 (builds FootageClips, which checks the footage options)
        if self.val_data is None and "f1" in {d.calibration.threshold for d in (self.detector, self.clip_detector) if d}:
            raise ValueError("--threshold f1: needs --val-data (labelled validation inputs with a few anomalies)")

    @property
    def footage(self) -> Optional["FootageClips"]:
        """How video files and frame folders are cut into clips (``--clip-frames`` given), else None;
        ``channels`` None is filled in from the data by :meth:`footage_for`."""
        from sciffusion.pipelines.ood.footage import FootageClips

        if self.clip_frames is None:
            return None
        return FootageClips(clip_frames=self.clip_frames, size=self.image_size or DEFAULT_FOOTAGE_SIZE,
                            channels=self.channels or 3, stride=self.clip_stride, fit=self.frame_fit)

    def footage_for(self, path: Path) -> Optional["FootageClips"]:
        """:attr:`footage` for the data at ``path``: grey when every source is a folder of grey frames and
        ``--channels`` was not given; None without ``--clip-frames``. Zarr stores and ``.npz`` files are
        clips already: ``--clip-frames`` with them is a one-line error."""
        from sciffusion.domains.video.zarr_store import looks_like_store
        from sciffusion.pipelines.ood.footage import grey_footage

        footage = self.footage
        if footage is None:
            return None
        path = Path(path)
        if path.suffix == ".npz" or (path.is_dir() and looks_like_store(path)):
            raise ValueError(f"--clip-frames: {path} holds inputs already; the option cuts footage (video files, "
                             "folders of frames or of videos) into clips")
        if self.channels is None and path.exists() and grey_footage(path):
            footage = dataclasses.replace(footage, channels=1)
        return footage

    @property
    def image_hw(self) -> Optional[tuple[int, int]]:
        """(H, W) that images read from a folder are resized to, or None (keep their size)."""
        return None if self.image_size is None else (self.image_size, self.image_size)

    def to_dict(self) -> dict[str, Any]:
        return {"data": str(self.data), "out": str(self.out), "model": None if self.model is None else str(self.model),
                "base_channels": self.base_channels, "val_data": None if self.val_data is None else str(self.val_data),
                "label_names": list(self.label_names), "image_size": self.image_size,
                "footage": None if self.footage is None else self.footage_for(self.data).to_dict(),
                "detector": self.detector.to_dict(),
                "clip_detector": None if self.clip_detector is None else self.clip_detector.to_dict()}

    def detector_for(self, sample_shape: tuple[int, ...]) -> DetectorSettings:
        """The detector settings for inputs of ``sample_shape``: ``clip_detector`` for clips when set and
        the clips are long enough for its predictive windows (``--score auto`` on clips shorter than
        context + 1 frames is ``features``, as :func:`resolve_score` says); ``clip_detector_error``: why
        the clip settings could not be made, raised for such clips only."""
        if len(sample_shape) != 4 or (self.clip_detector is None and self.clip_detector_error is None):
            return self.detector
        predictive = [m.score for m in self.clip_detector.members if m.score.kind == "predictive"] \
            if self.clip_detector is not None else []
        if any(sample_shape[1] < s.context_frames + (s.target_frames or 1) for s in predictive):
            return self.detector
        if self.clip_detector_error is not None:
            raise ValueError(self.clip_detector_error)
        return self.clip_detector


def detector_config(score: str = "features", levels: Optional[int] = None, sigma_min: Optional[float] = None,
                    sigma_max: Optional[float] = None, density: Optional[str] = None, threshold: str = "quantile",
                    contamination: float = 0.1, manual_threshold: Optional[float] = None, minutes: float = 5.0,
                    max_steps: int = 2000, batch_size: int = 64, holdout: float = 0.2, seed: int = 0,
                    patch_bank: Optional[int] = None, context_frames: int = 3,
                    target_frames: Optional[int] = 1, positions: Optional[bool] = None,
                    whole_input: Optional[bool] = None, max_side: Optional[int] = 64,
                    pixels: Optional[bool] = None, precision: str = "auto") -> DetectorConfig:
    """A :class:`DetectorConfig` from flat options (the CLI's and the benchmark's). Unset options take
    the score kind's defaults (:func:`~sciffusion.common.anomaly.score_config.score_defaults`): for
    ``features`` 2 levels in σ ∈ [0.3, 0.6] and the ``mean`` density (its features are already
    distances), for the others 10 levels in [0.01, 1] and a ``gmm``. ``patch_bank``: the ``features``
    score's patch-bank size (0: whole-input distances only; None: by input kind,
    :func:`~sciffusion.common.anomaly.score_config.patch_bank_for`); ``positions``: its per-position
    Gaussians of the shallow features (PaDiM-style; None: by input kind, ``positions_for``);
    ``whole_input``: its whole-input distances (None: ``whole_input_for``); ``pixels``: its per-position
    Gaussians of the inputs' own pixels (None: ``pixels_for``). ``context_frames``/``target_frames``:
    the ``predictive`` score's windows (frames given, frames predicted; None: the fewest that keep it
    within 8 model calls, :func:`~sciffusion.common.anomaly.predictive.auto_target_frames`, which costs
    accuracy on long clips: docs/ood.md, eighth round). ``max_side``: larger images and clips are scored
    at a working size whose larger side is about this many px (0 or None: their own size;
    :mod:`~sciffusion.common.anomaly.resolution`). ``precision``: the training's
    (:func:`~sciffusion.common.training.precision.resolve_precision`; ``auto``: bf16 mixed where native)."""
    from sciffusion.common.anomaly.score_config import score_defaults

    d = score_defaults(score)
    if patch_bank is not None and patch_bank < 0:
        raise ValueError(f"--patch-bank: must be >= 0 (0: no patch distances), got {patch_bank}")
    levels = d["levels"] if levels is None else levels
    lo, hi = (d["sigma_min"] if sigma_min is None else sigma_min), (d["sigma_max"] if sigma_max is None else sigma_max)
    ranges = {"feature_sigma_min": lo, "feature_sigma_max": hi, "patch_bank_size": patch_bank, "positions": positions,
              "whole_input": whole_input, "pixels": pixels} \
        if score == "features" else {"sigma_min": lo, "sigma_max": hi}
    return DetectorConfig(score=ScoreConfig(kind=score, levels=levels, seed=seed, context_frames=context_frames,
                                            target_frames=target_frames, **ranges),
                          calibration=CalibrationConfig(density=d["density"] if density is None else density,
                                                        threshold=threshold, contamination=contamination,
                                                        manual_threshold=manual_threshold, seed=seed),
                          minutes=minutes, max_steps=max_steps, batch_size=batch_size, holdout_fraction=holdout,
                          seed=seed, max_side=max_side or None, precision=precision)


OPTION_OF_FIELD = {"contamination": "--contamination", "threshold": "--threshold", "manual_threshold": "--manual-threshold",
                   "density": "--density", "holdout_fraction": "--holdout", "max_side": "--max-side", "score": "--score",
                   "levels": "--levels", "minutes": "--minutes", "max_steps": "--max-steps",
                   "batch_size": "--batch-size", "precision": "--precision"}
"""The ``ood fit`` option of each config field the core's checks name, so an error names what the user typed."""


def _named_as_options(exc: ValueError) -> ValueError:
    """``exc`` with a leading config field name (``contamination: ...``) replaced by its option."""
    field, sep, rest = str(exc).partition(": ")
    return ValueError(f"{OPTION_OF_FIELD[field]}: {rest}") if sep and field in OPTION_OF_FIELD else exc


def _errors_named_as_options(fn):
    """``fn`` with the core's field names in its ``ValueError`` messages given as the options users type."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            raise _named_as_options(exc) from None

    return wrapper


@_errors_named_as_options
def detector_settings(score: str = "features", levels: Optional[int] = None, sigma_min: Optional[float] = None,
                      sigma_max: Optional[float] = None, density: Optional[str] = None, threshold: str = "quantile",
                      contamination: float = 0.1, manual_threshold: Optional[float] = None, minutes: float = 5.0,
                      max_steps: int = 2000, batch_size: int = 64, holdout: float = 0.2, seed: int = 0,
                      patch_bank: Optional[int] = None, context_frames: int = 3,
                      target_frames: Optional[int] = 1, positions: Optional[bool] = None,
                      whole_input: Optional[bool] = None, max_side: Optional[int] = 64,
                      pixels: Optional[bool] = None, precision: str = "auto") -> DetectorSettings:
    """:func:`detector_config` for one score kind; for several joined by ``+`` an
    :class:`~sciffusion.common.anomaly.EnsembleConfig` of one member per kind, each with its kind's
    defaults and an equal share of ``minutes`` and ``max_steps`` among the members that train a network
    (``pixels`` trains none), ``density`` (default
    :data:`~sciffusion.common.anomaly.ensemble.DEFAULT_COMBINATION`), threshold and contamination applying to the combined scores. ``levels`` and the σ range belong
    to one kind, so they are refused for an ensemble."""
    kinds = score_members(score)
    options = dict(manual_threshold=manual_threshold, batch_size=batch_size, holdout=holdout, seed=seed,
                   patch_bank=patch_bank, context_frames=context_frames, target_frames=target_frames,
                   positions=positions, whole_input=whole_input, max_side=max_side, pixels=pixels,
                   precision=precision)
    if len(kinds) == 1:
        return detector_config(kinds[0], levels, sigma_min, sigma_max, density, threshold, contamination,
                               minutes=minutes, max_steps=max_steps, **options)
    given = [name for name, value in (("--levels", levels), ("--sigma-min", sigma_min), ("--sigma-max", sigma_max))
             if value is not None]
    if given:
        raise ValueError(f"{given[0]}: set per score kind, so not for the ensemble {score} (its members use their "
                         "kinds' defaults)")
    trained = max(1, sum(kind not in NO_NETWORK_SCORES for kind in kinds))
    members = tuple(detector_config(kind, minutes=minutes / trained, max_steps=max(1, max_steps // trained),
                                    threshold="quantile", contamination=contamination, **options) for kind in kinds)
    calibration = CalibrationConfig(density=density or DEFAULT_COMBINATION, threshold=threshold,
                                    contamination=contamination, manual_threshold=manual_threshold, seed=seed)
    return EnsembleConfig(members, calibration)


@dataclass(frozen=True)
class Start:
    """What a detector starts from (``--model``): the network config, its weights, and the
    preconditioning it was trained with (``train``: its loss kind and σ_data; None: the detector's own)."""

    net_config: DenoiserNetConfig
    state: dict
    train: Optional[TrainConfig] = None


def adopt_start(settings: DetectorSettings, start: Start) -> DetectorSettings:
    """``settings`` with its members set to the given network where they use it: ``predictive`` members
    take a context network's context and target frames, and every member that uses the network (the
    predictive ones; the others when it is an external network with an unconditional form,
    :meth:`~sciffusion.common.anomaly.networks.DenoiserNetConfig.unconditional`) takes, when the start
    has one, the training config it was trained with (preconditioning: loss kind and σ_data; and the
    optimizer settings a fine-tune continues with: learning rate, warm-up, EMA); the others keep theirs."""
    net = start.net_config
    if not net.context_frames:
        return settings
    try:
        unconditional = net.unconditional() is not None
    except ValueError:
        unconditional = False

    def adopt(member: DetectorConfig) -> DetectorConfig:
        train = member.train if start.train is None else start.train
        if member.score.kind != "predictive":
            return dataclasses.replace(member, train=train) if unconditional else member
        score = dataclasses.replace(member.score, context_frames=net.context_frames, target_frames=net.target_frames)
        return dataclasses.replace(member, score=score, train=train)

    if isinstance(settings, EnsembleConfig):
        return dataclasses.replace(settings, members=tuple(adopt(m) for m in settings.members))
    return adopt(settings)


def check_model_use(score: str) -> None:
    """One-line ValueError when ``--model`` is given for a ``score`` none of whose kinds trains a network
    (``pixels``, ``statistics``): nothing would start from it."""
    if set(score_members(score)) <= set(NO_NETWORK_SCORES):
        raise ValueError(f"--model: the {score} score uses no network, so there is nothing to start from")


def start_for(model: Optional[Path], sample_shape: tuple[int, ...], settings: DetectorSettings,
              base_channels: int = 32, trust: bool = False) -> Start:
    """What a detector for inputs of ``sample_shape`` starts from: ``model`` (:func:`load_start`) or a
    fresh network of ``base_channels``, either at the working size of ``settings`` (its first member's
    ``max_side``: the network sees larger inputs area-averaged to it). A ``model`` for settings that
    train no network is refused (:func:`check_model_use`)."""
    work = settings.members[0].working_shape(tuple(sample_shape))
    if model is not None:
        check_model_use(settings.name)
        return load_start(model, work, trust)
    return Start(DenoiserNetConfig(work, base_channels=base_channels), None)


def load_start(model: Path, sample_shape: tuple[int, ...], trust: bool) -> Start:
    """What to start (and fine-tune) from ``model`` (:class:`OODFitConfig`): a detector file, a
    DiffusionModule checkpoint with its ``config.json``, or a video model file (as the context
    denoiser of the predictive score, :mod:`~sciffusion.pipelines.ood.video_model`)."""
    from sciffusion.common.anomaly import DiffusionAnomalyDetector
    from sciffusion.common.anomaly.ensemble import FILE_KIND as ENSEMBLE_KIND
    from sciffusion.common.anomaly.pixel_detector import FILE_KIND as PIXEL_KIND
    from sciffusion.common.io.checkpoint import load_checkpoint
    from sciffusion.pipelines.ood.video_model import is_video_model_file, video_start

    content = load_checkpoint(model, trust=trust)
    if is_video_model_file(content):
        return video_start(model, sample_shape)
    if isinstance(content, dict) and content.get("kind") == "sciffusion-anomaly-detector":
        det = DiffusionAnomalyDetector.from_state(content, str(model))
        net_config, state = det.net_config_, det.module_.ema.shadow.state_dict()
    elif isinstance(content, dict) and isinstance(content.get("state_dict"), dict):
        sidecar = model.parent / "config.json"
        net = json.loads(sidecar.read_text()).get("net") if sidecar.is_file() else None
        if not isinstance(net, dict):
            raise ValueError(f"{model}: a Lightning checkpoint needs {sidecar} with a 'net' U-Net config beside it")
        net_config = DenoiserNetConfig(sample_shape, unet=net)
        prefix = "ema.shadow."
        state = {k[len(prefix):]: v for k, v in content["state_dict"].items() if k.startswith(prefix)}
    elif isinstance(content, dict) and content.get("kind") == PIXEL_KIND:
        raise ValueError(f"{model}: a {content.get('config', {}).get('score', {}).get('kind', 'pixels')} detector "
                         "holds no network to start from")
    elif isinstance(content, dict) and content.get("kind") == ENSEMBLE_KIND:
        raise ValueError(f"{model}: an ensemble detector holds one network per score; fine-tune from a "
                         "single-score detector or a DiffusionModule checkpoint")
    else:
        raise ValueError(f"{model}: not a detector file or a DiffusionModule checkpoint")
    if tuple(net_config.sample_shape) != tuple(sample_shape) and net_config.unet is None:
        raise ValueError(f"{model}: fitted on inputs of shape {list(net_config.sample_shape)}, the data has "
                         f"{list(sample_shape)}")
    try:
        net_config = dataclasses.replace(net_config, sample_shape=tuple(sample_shape))
        net_config.build().load_state_dict(state)
    except (RuntimeError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0][:120]
        raise ValueError(f"{model}: weights do not fit a network for inputs of shape {list(sample_shape)} "
                         f"({detail})") from None
    return Start(net_config, state)


def fit_ood(config: OODFitConfig, progress: bool = False,
            on_score_batch: Optional[Callable[[int, int], None]] = None,
            on_frames: Optional[Callable[[int], None]] = None,
            on_read: Optional[Callable[[], None]] = None) -> dict[str, Any]:
    """Fit and write the detector folder (module docstring); returns the ``fit.json`` content.
    ``progress``: a training bar; ``on_score_batch(n, total)``: after each batch of the scoring stage;
    ``on_frames(n)``: n footage frames decoded; ``on_read()``: the inputs are read, training starts."""
    from sciffusion.common.anomaly import make_detector
    from sciffusion.common.io.atomic import atomic_path
    from sciffusion.common.io.outputs import check_outputs
    from sciffusion.pipelines.ood.inputs import read_inputs

    check_outputs([("--out", Path(config.out), True)],
                  {"--data": config.data, "--model": config.model, "--val-data": config.val_data}, config.overwrite)
    footage = config.footage_for(config.data)
    data = read_inputs(config.data, config.label_names or None, config.image_hw, footage, on_frames)
    if on_read is not None:
        on_read()
    if data.labels is not None and not (data.labels == 0).any():
        hint = "" if data.layout != "images" or footage is not None or not Path(config.data).is_dir() else \
            (" (image subfolders other than good/normal/ok/nominal/train count as anomalies; a folder of frame "
             "folders is footage: pass --clip-frames T)")
        raise ValueError(f"{config.data}: every input is labelled anomalous, nothing normal to fit on{hint}")
    shape = data.sample_shape
    start = start_for(config.model, shape, config.detector_for(shape), config.base_channels, config.trust_checkpoint)
    work = tuple(start.net_config.sample_shape)
    try:  # floats only at the network's size, converted a chunk at a time
        x = data.reduced_inputs(work, None if data.labels is None else data.labels == 0)
    except ValueError as exc:
        raise ValueError(f"{config.data}: {str(exc)[3:]}" if str(exc).startswith("X: ") else str(exc)) from None
    val_x = val_y = None
    if config.val_data is not None:
        val_footage = None if footage is None else config.footage_for(config.val_data)
        if val_footage is not None:  # the same clips as the training data, whatever the files hold
            val_footage = dataclasses.replace(val_footage, channels=shape[0])
        val = read_inputs(config.val_data, config.label_names or None, config.image_hw or shape[-2:], val_footage,
                          image_channels=shape[0] if len(shape) == 3 else None)
        if val.labels is None:
            raise ValueError(f"{config.val_data}: the validation set needs labels (0 normal, 1 anomaly)")
        if tuple(val.model_inputs_shape[1:]) != shape:
            raise ValueError(f"{config.val_data}: inputs of shape {list(val.model_inputs_shape[1:])}, the "
                             f"training data has {list(shape)}")
        val_x, val_y = val.reduced_inputs(work), val.labels
    settings = adopt_start(config.detector_for(shape), start)
    for score in (m.score for m in settings.members):
        if score.kind == "predictive" and (len(shape) != 4 or shape[1] < score.context_frames + (score.target_frames or 1)):
            got = f"clips of {shape[1]} frames" if len(shape) == 4 else f"{data.layout} (no frames)"
            raise ValueError(f"{config.data}: the predictive score needs clips of at least {score.context_frames} + "
                             f"{score.target_frames or 1} frames (--context-frames + --target-frames), got {got}")
    det = make_detector(settings)
    try:
        det.fit(x, net_config=start.net_config, init_state=start.state, val_X=val_x, val_y=val_y,
                progress=progress, on_score_batch=on_score_batch)
    except ValueError as exc:  # the core names its argument X; the user knows the file
        if str(exc).startswith("X: "):
            raise ValueError(f"{config.data}: {str(exc)[3:]}") from None
        raise
    report = {"inputs": len(x), "input_shape": list(shape), "working_shape": list(start.net_config.sample_shape),
              "layout": data.layout,
              "train": dataclasses.asdict(det.fit_report_), "threshold": det.threshold_,
              "threshold_rule": det.calibration_.threshold_source, "contamination": det.contamination,
              "score": settings.name, "nfe_per_input": settings.nfe_for(shape),
              "fit_labels_flagged": float(np.mean(det.labels_)), "fine_tuned_from": None if config.model is None
              else str(config.model), "skipped_sources": list(data.skipped)}
    with atomic_path(config.out, overwrite=config.overwrite) as tmp:
        tmp.mkdir()
        det.save(tmp / DETECTOR_FILE)
        (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        (tmp / "fit.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


__all__ = ["AUTO_CLIP_SCORE", "AUTO_SCORE", "DETECTOR_FILE", "DetectorSettings", "OODFitConfig", "Start", "adopt_start",
           "check_model_use", "detector_config", "detector_settings",
           "fit_ood", "load_start", "resolve_score", "score_members", "start_for"]
