"""The typed configuration of ``sciffusion video train``, read from YAML or JSON (``configs/*.yaml``).

Layout (every section optional; missing keys take the defaults)::

    model:    {VideoModelConfig fields: arch, channels, size, past_frames, frames, future_frames, events, widths}
    train:    {TrainConfig fields: loss, lr, ema_decay, cond_dropout, seed, sigma: {...}, ...}
    data:     {train: STORE.zarr, val: STORE.zarr | null, batch_size, num_workers, balance_events,
               p_mask_past, p_mask_future, change_weight, val_every, val_clips}
    schedule: {max_steps, minutes, val_every, checkpoint_every, log_every, precision}
    predict:  {sampler, steps, init_sigma}: the settings ``video predict`` uses with this model when the
              user gives none (written to the model file's meta; measure them first)

Store paths that are relative are read relative to the current folder.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.precision import check_precision
from sciffusion.domains.video.datamodule import VideoDataConfig
from sciffusion.domains.video.model import VideoModelConfig

CONFIG_DIR = Path(__file__).parent / "configs"
SECTIONS = ("model", "train", "data", "schedule", "predict")
WINDOW_KEYS = ("past_frames", "frames", "future_frames", "events")
"""VideoDataConfig fields that come from the model section (one block layout for both)."""


@dataclass(frozen=True)
class VideoTrainSchedule:
    """max_steps: optimizer steps in all (None: no limit); minutes: wall-clock budget of this invocation
    (None: none); at least one is needed. val_every / checkpoint_every / log_every: optimizer steps
    between validations, between writes of last.ckpt + model.ckpt, between train rows of curves.csv.
    precision: Lightning's (``32-true``; ``bf16-mixed`` on a GPU), or ``auto`` (bf16 mixed where the hardware
    computes bf16 natively: :func:`~sciffusion.common.training.precision.resolve_precision`)."""

    max_steps: Optional[int] = 2000
    minutes: Optional[float] = None
    val_every: int = 200
    checkpoint_every: int = 100
    log_every: int = 10
    precision: str = "32-true"

    def __post_init__(self) -> None:
        for name in ("val_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps: must be >= 1 or null, got {self.max_steps}")
        if self.minutes is not None and not 0 < self.minutes < math.inf:
            raise ValueError(f"--minutes (schedule.minutes): must be a finite number > 0 or null, got {self.minutes}")
        check_precision(self.precision)


@dataclass(frozen=True)
class VideoTrainConfig:
    """The model, its training loss/optimiser, the data, the schedule and the recommended prediction
    settings (module docstring; ``predict`` empty: none recommended)."""

    data: VideoDataConfig
    model: VideoModelConfig = field(default_factory=VideoModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    schedule: VideoTrainSchedule = field(default_factory=VideoTrainSchedule)
    predict: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from sciffusion.domains.video.sampling import recommended_prediction

        mismatch = [k for k in WINDOW_KEYS if getattr(self.data, k) != getattr(self.model, k)]
        if mismatch:
            raise ValueError(f"data: {', '.join(mismatch)} must equal the model's (set them in the model section)")
        recommended_prediction({"predict": dict(self.predict)}, "predict")

    def to_dict(self) -> dict[str, Any]:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self.data).items()
                if k not in WINDOW_KEYS}
        out = {"model": self.model.to_dict(), "train": self.train.to_dict(), "data": data,
               "schedule": dataclasses.asdict(self.schedule)}
        return {**out, "predict": dict(self.predict)} if self.predict else out  # runs before it resume unchanged

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "VideoTrainConfig":
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown sections {sorted(unknown)} (known: {', '.join(SECTIONS)})")
        for name in SECTIONS:
            if not isinstance(d.get(name) or {}, Mapping):
                raise ValueError(f"{name}: must be a mapping")
        model = VideoModelConfig.from_dict(d.get("model") or {})
        data = dict(d.get("data") or {})
        known = {f.name for f in dataclasses.fields(VideoDataConfig)} - set(WINDOW_KEYS)
        if set(data) - known:
            raise ValueError(f"data: unknown keys {sorted(set(data) - known)}")
        if "train" not in data:
            raise ValueError("data: 'train' (the training zarr store) is required (or give --data)")
        data["train"] = Path(data["train"])
        data["val"] = None if data.get("val") is None else Path(data["val"])
        window = {k: getattr(model, k) for k in WINDOW_KEYS}
        schedule = d.get("schedule") or {}
        unknown = set(schedule) - {f.name for f in dataclasses.fields(VideoTrainSchedule)}
        if unknown:
            raise ValueError(f"schedule: unknown keys {sorted(unknown)}")
        return cls(VideoDataConfig(**data, **window), model, TrainConfig.from_dict(d.get("train") or {}),
                   VideoTrainSchedule(**schedule), dict(d.get("predict") or {}))

    def with_overrides(self, *, val_store: Optional[Path] = None,
                       max_steps: Optional[int] = None, minutes: Optional[float] = None,
                       seed: Optional[int] = None, precision: Optional[str] = None) -> "VideoTrainConfig":
        """A copy with the CLI's overrides (None = keep; ``--data`` goes through :func:`load_train_config`)."""
        data = self.data if val_store is None else replace(self.data, val=val_store)
        if precision is not None:
            check_precision(precision, "--precision")
        sched = replace(self.schedule, **{k: v for k, v in (("max_steps", max_steps), ("minutes", minutes),
                                                            ("precision", precision)) if v is not None})
        train = self.train if seed is None else replace(self.train, seed=seed)
        return replace(self, data=data, schedule=sched, train=train)


def load_train_config(path: Path | str, train_store: Optional[Path] = None) -> VideoTrainConfig:
    """The config in ``path`` (.yaml/.yml or .json) or the bundled config named ``path`` (``configs/``);
    every problem is one line naming the file. ``train_store`` (``--data``) replaces ``data.train``
    before the config is checked, so a config file may leave the store to the command line."""
    path = Path(path)
    if not path.is_file() and path.suffix == "" and (CONFIG_DIR / f"{path}.yaml").is_file():
        path = CONFIG_DIR / f"{path}.yaml"
    if not path.is_file():
        bundled = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"{path}: config file not found (bundled: {bundled})")
    import yaml

    try:
        text = path.read_text()
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'} "
                         f"({' '.join(str(exc).split())[:160]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must hold a mapping of sections")
    if train_store is not None:
        data = {**data, "data": {**(data.get("data") or {}), "train": str(train_store)}}
    try:
        return VideoTrainConfig.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {' '.join(str(exc).split())}") from None


__all__ = ["CONFIG_DIR", "VideoTrainConfig", "VideoTrainSchedule", "load_train_config"]
