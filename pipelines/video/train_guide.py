"""``sciffusion video train-guide``: train the event guide of a driving video model.

The guide is a noise-conditional event classifier (:mod:`sciffusion.domains.video.networks.event_classifier`)
trained by the core's :class:`~sciffusion.common.training.classifier_module.NoisyClassifierModule` on the
windows the video model trains on (:class:`~sciffusion.domains.video.datamodule.VideoDataModule`, event
labels on, clips drawn event-balanced with each event clip's window placed where its event falls in the
block), its blocks noised to σ log-uniform in [sigma_min, sigma_max]; validation on the store's held-out
episodes. RUN_DIR gets ``guide.pt`` (:mod:`sciffusion.domains.video.event_guide`), ``curves.csv``,
``curves.png`` and ``config.json``; ``video generate --guide RUN_DIR/guide.pt`` uses it.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import pytorch_lightning as pl


@dataclass(frozen=True)
class GuideTrainConfig:
    """data: a labelled driving store; out: RUN_DIR (new); model: the video model whose blocks the guide
    reads (channels, past frames, frames, σ_data); minutes / max_steps: budget (at least one); batch_size;
    lr; width: first conv channels; sigma_min / sigma_max: training noise range (data units); p_mask_past:
    how often the past block is hidden (generation's first block has none); val_every: steps between
    validations; seed; init_from: a guide file to start from (its EMA weights; its network config, and so
    --width, is kept), to train a guide longer or on other data; precision: Lightning's or ``auto``
    (:func:`~sciffusion.common.training.precision.resolve_precision`; the bundled guide: ``32-true``)."""

    data: Path
    out: Path
    model: Path
    minutes: Optional[float] = 20.0
    max_steps: Optional[int] = None
    batch_size: int = 32
    lr: float = 2e-3
    width: int = 24
    sigma_min: float = 0.01
    sigma_max: float = 10.0
    p_mask_past: float = 0.3
    val_every: int = 200
    val_clips: int = 256
    seed: int = 0
    accelerator: str = "auto"
    devices: str = "1"
    progress: bool = True
    init_from: Optional[Path] = None
    precision: str = "32-true"

    def __post_init__(self) -> None:
        from sciffusion.common.grids import check_sigma_range
        from sciffusion.common.training.precision import check_precision

        check_precision(self.precision, "--precision")

        if self.init_from is not None and not Path(self.init_from).is_file():
            raise FileNotFoundError(f"{self.init_from}: --init-from not found")

        if self.minutes is None and self.max_steps is None:
            raise ValueError("--minutes / --max-steps: give at least one budget")
        if self.minutes is not None and not 0 < self.minutes < math.inf:
            raise ValueError(f"--minutes: must be a positive number, got {self.minutes}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max-steps: must be >= 1, got {self.max_steps}")
        if self.batch_size < 1 or self.width < 1 or self.val_every < 1 or self.val_clips < 1:
            raise ValueError("--batch-size, --width, --val-every, --val-clips: must be >= 1")
        if not 0 < self.lr < math.inf:
            raise ValueError(f"--lr: must be a positive number, got {self.lr}")
        if not 0 <= self.p_mask_past <= 1:
            raise ValueError(f"--p-mask-past: must be in [0, 1], got {self.p_mask_past}")
        check_sigma_range(self.sigma_min, self.sigma_max)


class _Curves(pl.Callback):
    """Rows {step, train_loss, train_accuracy, val_loss, val_accuracy}: train every 20 steps, val at each validation."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % 20 == 0:
            m = trainer.callback_metrics
            self.rows.append({"step": step, "train_loss": float(m["train/loss"]),
                              "train_accuracy": float(m.get("train/accuracy", math.nan))})

    def on_validation_end(self, trainer, pl_module) -> None:
        m = trainer.callback_metrics
        if "val/loss" in m:
            self.rows.append({"step": trainer.global_step, "val_loss": float(m["val/loss"]),
                              "val_accuracy": float(m["val/accuracy"])})


def run_train_guide(cfg: GuideTrainConfig) -> dict:
    """Train; returns {"steps", "seconds", "val_loss", "val_accuracy", "out", "parameters"}. One-line
    ValueErrors on a used RUN_DIR, a store without event labels or frames the model does not make."""
    import torch

    from sciffusion.common.io.atomic import atomic_path, write_text_atomic
    from sciffusion.common.networks.blocks import count_parameters
    from sciffusion.common.training.classifier_module import NoisyClassifierModule
    from sciffusion.common.training.config import TrainConfig
    from sciffusion.common.training.losses import SigmaDistribution
    from sciffusion.common.training.precision import resolve_precision
    from sciffusion.common.training.quiet import quiet_lightning
    from sciffusion.common.training.run_files import curve_columns, curves_csv_text, write_curves_png
    from sciffusion.common.training.trainer import step_trainer
    from sciffusion.domains.video.datamodule import VideoDataConfig, VideoDataModule, clip_events
    from sciffusion.domains.video.event_guide import guide_file, take_event
    from sciffusion.domains.video.events import EVENTS
    from sciffusion.domains.video.model import read_model_file
    from sciffusion.domains.video.networks.event_classifier import EventClassifierNetConfig, NoisyEventClassifier

    if cfg.out.exists() and (not cfg.out.is_dir() or any(cfg.out.iterdir())):
        raise ValueError(f"--out: {cfg.out} exists and is not an empty folder (choose a new RUN_DIR)")
    video = read_model_file(cfg.model)
    if not video.config.events:
        raise ValueError(f"--model: {cfg.model} was trained without event labels; an event guide has nothing to steer")
    data = VideoDataConfig(train=cfg.data, past_frames=video.config.past_frames, frames=video.config.frames,
                           batch_size=cfg.batch_size, events=True, balance_events=True, p_mask_past=cfg.p_mask_past,
                           p_mask_future=1.0, val_clips=cfg.val_clips)
    dm = VideoDataModule(data)
    dm.setup("fit")
    if not any(clip_events(cfg.data, dm.train_set.clips)):
        raise ValueError(f"--data: {cfg.data} has no training clip with an event (only normal driving): a guide "
                         "would have nothing to steer towards (make more episodes or use a higher --perturb)")
    c, h, w = dm.frame_shape
    if (c, h, w) != (video.config.channels, video.config.size, video.config.size):
        raise ValueError(f"--data: {cfg.data} frames are {h}x{w}x{c}, the model makes "
                         f"{video.config.size}x{video.config.size}x{video.config.channels}")
    net_config = EventClassifierNetConfig(channels=c, past_frames=video.config.past_frames, frames=video.config.frames,
                                          classes=len(EVENTS), width=cfg.width)
    init = None
    if cfg.init_from is not None:
        from sciffusion.domains.video.event_guide import read_guide_file

        init = read_guide_file(cfg.init_from)
        init.check_fits(video.config, f"--init-from: {cfg.init_from}")
        net_config = init.config
    train = TrainConfig(loss=video.train.loss, sigma_data=video.train.sigma_data, lr=cfg.lr, lr_warmup_steps=50,
                        ema_decay=0.99, seed=cfg.seed, cond_dropout=0.0,
                        sigma=SigmaDistribution("loguniform", sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max))
    cfg.out.mkdir(parents=True, exist_ok=True)
    record = {"command": "sciffusion video train-guide", "config": {k: str(v) if isinstance(v, Path) else v
                                                                  for k, v in asdict(cfg).items()},
              "net": net_config.to_dict(), "train": train.to_dict(), "train_clips": len(dm.train_set),
              "val_clips": len(dm.val_set), "precision": resolve_precision(cfg.precision, cfg.accelerator)}
    write_text_atomic(cfg.out / "config.json", json.dumps(record, indent=1))
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    net = NoisyEventClassifier(net_config)
    if init is not None:
        net.load_state_dict(init.net.state_dict())
    module = NoisyClassifierModule(net, train, take_label=take_event)
    curves = _Curves()
    with quiet_lightning():
        trainer, _ = step_trainer([curves], accelerator=cfg.accelerator, devices=cfg.devices, max_steps=cfg.max_steps,
                                  minutes=cfg.minutes, val_every=cfg.val_every, progress=cfg.progress,
                                  precision=record["precision"])
        start = time.perf_counter()
        trainer.fit(module, datamodule=dm)
        seconds = time.perf_counter() - start
        if not curves.rows or curves.rows[-1].get("step") != trainer.global_step or "val_loss" not in curves.rows[-1]:
            trainer.validate(module, datamodule=dm, verbose=False)
    last = curves.rows[-1]
    meta = {"steps": int(trainer.global_step), "data": str(cfg.data), "train_clips": len(dm.train_set),
            "val_clips": len(dm.val_set), "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_accuracy"),
            "model": str(cfg.model), "init_from": None if cfg.init_from is None else str(cfg.init_from),
            "steps_before": 0 if init is None else int(init.meta.get("steps", 0))}
    columns = curve_columns(("loss", "accuracy"))
    write_text_atomic(cfg.out / "curves.csv", curves_csv_text(curves.rows, columns))
    write_curves_png(curves.rows, ("loss",), cfg.out / "curves.png")
    with atomic_path(cfg.out / "guide.pt") as tmp:
        torch.save(guide_file(module.ema.shadow, net_config, train.to_dict(), meta), tmp)
    return {"steps": meta["steps"], "seconds": seconds, "val_loss": meta["val_loss"],
            "val_accuracy": meta["val_accuracy"], "out": str(cfg.out), "parameters": count_parameters(net),
            "precision": record["precision"]}


__all__ = ["GuideTrainConfig", "run_train_guide"]
