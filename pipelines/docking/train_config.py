"""The typed configuration of ``sciffusion docking train``, read from a JSON file (``configs/*.json``).

JSON layout (every section optional; missing keys take the defaults below)::

    {"model":    {ScoreModelConfig fields},
     "process":  {"r3": {"kind": "euclidean", "sigma_min": 0.1, "sigma_max": 6.0}, "so3": {...}, "torus": {...}},
     "train":    {TrainConfig fields: lr, ema_decay, grad_clip, seed, ...},
     "loss":     {"weights": {"r3": 1, ...}, "ragged_mean": "sample"},
     "data":     {"receptor_radius": 20.0, "graph": {GraphConfig fields}},
     "schedule": {"batch_size": 8, "max_steps": 2000, "minutes": null, "val_every": 200,
                  "checkpoint_every": 100, "log_every": 10, "val_batch_size": 8, "num_workers": 0,
                  "precision": "32-true"}}
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from sciffusion.common.training.precision import check_precision
from sciffusion.common.training.product_module import ProductTrainConfig
from sciffusion.domains.docking.pose_dataset import PoseDataConfig
from sciffusion.domains.docking.pose_diffusion import check_pose_process, default_pose_process, \
    score_model_config_from_dict
from sciffusion.domains.docking.score_model import ScoreModelConfig

CONFIG_DIR = Path(__file__).parent / "configs"
SECTIONS = ("model", "process", "train", "loss", "data", "schedule")


@dataclass(frozen=True)
class TrainSchedule:
    """batch_size: complexes per optimizer step. max_steps: stop after this many optimizer steps in
    all (None: no step limit). minutes: wall-clock budget of this invocation (None: none); at least one
    of the two is needed to run. val_every / checkpoint_every / log_every: optimizer steps between
    validations (EMA weights), between writes of last.ckpt + model.ckpt, between train rows of
    curves.csv. val_batch_size: complexes per validation batch. num_workers: DataLoader workers.
    precision: Lightning's (``32-true``, what the bundled models were trained with; ``bf16-mixed``) or
    ``auto`` (bf16 mixed where the hardware computes bf16 natively:
    :func:`~sciffusion.common.training.precision.resolve_precision`)."""

    batch_size: int = 8
    max_steps: Optional[int] = 2000
    minutes: Optional[float] = None
    val_every: int = 200
    checkpoint_every: int = 100
    log_every: int = 10
    val_batch_size: int = 8
    num_workers: int = 0
    precision: str = "32-true"

    def __post_init__(self) -> None:
        for name in ("batch_size", "val_every", "checkpoint_every", "log_every", "val_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps: must be >= 1 or null, got {self.max_steps}")
        if self.minutes is not None and not (0 < self.minutes < math.inf):
            raise ValueError(f"--minutes (schedule.minutes): must be a finite number > 0 or null, got {self.minutes}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers: must be >= 0, got {self.num_workers}")
        check_precision(self.precision, "schedule.precision")


@dataclass(frozen=True)
class DockTrainConfig:
    """The score model's size, the product process + optimiser + loss, the data settings and the schedule."""

    model: ScoreModelConfig = field(default_factory=ScoreModelConfig)
    product: ProductTrainConfig = field(default_factory=lambda: ProductTrainConfig(default_pose_process()))
    data: PoseDataConfig = field(default_factory=PoseDataConfig)
    schedule: TrainSchedule = field(default_factory=TrainSchedule)

    def __post_init__(self) -> None:
        check_pose_process(self.product.process)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict in the layout of the module docstring."""
        product = self.product.to_dict()
        return {"model": dataclasses.asdict(self.model), "process": product["process"], "train": product["train"],
                "loss": product["loss"], "data": self.data.to_dict(), "schedule": dataclasses.asdict(self.schedule)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DockTrainConfig":
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown sections {sorted(unknown)} (known: {', '.join(SECTIONS)})")
        for name in SECTIONS:
            if not isinstance(d.get(name, {}), Mapping):
                raise ValueError(f"{name}: must be a JSON object")
        process = d.get("process") or default_pose_process().to_dict()
        product = ProductTrainConfig.from_dict({"process": process, "train": d.get("train", {}),
                                                "loss": d.get("loss", {})})
        schedule = d.get("schedule", {})
        unknown = set(schedule) - {f.name for f in dataclasses.fields(TrainSchedule)}
        if unknown:
            raise ValueError(f"schedule: unknown keys {sorted(unknown)}")
        return cls(score_model_config_from_dict(d.get("model", {})), product,
                   PoseDataConfig.from_dict(d.get("data", {})), TrainSchedule(**schedule))

    def with_overrides(self, *, max_steps: Optional[int] = None, minutes: Optional[float] = None,
                       batch_size: Optional[int] = None, seed: Optional[int] = None,
                       precision: Optional[str] = None) -> "DockTrainConfig":
        """A copy with the CLI's overrides (None = keep)."""
        sched = self.schedule
        if precision is not None:
            check_precision(precision, "--precision")
        sched = replace(sched, **{k: v for k, v in (("max_steps", max_steps), ("minutes", minutes),
                                                    ("batch_size", batch_size), ("precision", precision))
                                  if v is not None})
        product = self.product
        if seed is not None:
            product = replace(product, train=replace(product.train, seed=seed))
        return replace(self, schedule=sched, product=product)


def load_train_config(path: Optional[Path | str]) -> DockTrainConfig:
    """The config in JSON file ``path`` (None: the defaults); every problem is one line naming the file."""
    if path is None:
        return DockTrainConfig()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must hold a JSON object")
    try:
        return DockTrainConfig.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {' '.join(str(exc).split())}") from None


def bundled_config(name: str) -> Path:
    """``configs/<name>.json`` shipped with the package (``cpu``, ``gpu``)."""
    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
        raise ValueError(f"--config: no bundled config {name!r} (bundled: {', '.join(known)})")
    return path


__all__ = ["CONFIG_DIR", "DockTrainConfig", "TrainSchedule", "bundled_config", "load_train_config"]
