"""``sciffusion video train``: a video model through the core's ``DiffusionModule``.

Flow: read the config (YAML/JSON), open the stores through :class:`~sciffusion.domains.video.datamodule.
VideoDataModule` (split from the store's metadata), build the network of the model section, train with
a step and/or time budget. Files: :mod:`~sciffusion.pipelines.video.train_files` (last.ckpt,
model.ckpt, curves.csv/png) and ``config.json`` (the resolved config, the stores with their attrs and
clip counts, the package versions).

Resume: ``resume=True`` continues from RUN_DIR/last.ckpt (step, optimiser, EMA, curves; the per-step
σ/noise draws are seeded by the step, so nothing is lost) when it exists and starts afresh otherwise;
the model and data sections must match config.json. Without it a RUN_DIR holding run files is refused.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sciffusion.common.io.atomic import write_text_atomic
from sciffusion.common.io.provenance import package_versions
from sciffusion.pipelines.video.train_config import VideoTrainConfig

RUN_FILES = ("last.ckpt", "model.ckpt", "config.json", "curves.csv")
MATCHED_SECTIONS = ("model", "data")
VERSIONED_PACKAGES = ("sciffusion", "torch", "pytorch-lightning", "zarr")


@dataclass(frozen=True)
class VideoTrainRunConfig:
    """out: RUN_DIR; config: the resolved :class:`VideoTrainConfig`; resume: continue from last.ckpt;
    accelerator / devices: Lightning's; progress: a progress bar."""

    out: Path
    config: VideoTrainConfig
    resume: bool = False
    accelerator: str = "auto"
    devices: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        sched = self.config.schedule
        if sched.max_steps is None and sched.minutes is None:
            raise ValueError("--max-steps/--minutes: give at least one budget (in the config or on the command line)")
        if self.accelerator not in ("auto", "cpu", "gpu", "cuda"):
            raise ValueError(f"--accelerator: must be auto, cpu, gpu or cuda, got {self.accelerator!r}")
        if self.devices != "auto" and not (self.devices.isdigit() and int(self.devices) >= 1):
            raise ValueError(f"--devices: must be 'auto' or a count >= 1, got {self.devices!r}")


def check_run_dir(out: Path, resume: bool, resolved: dict) -> Optional[Path]:
    """The checkpoint to resume from (None: a fresh start); refuses a used RUN_DIR without ``resume`` and a
    resume whose model/data sections differ from config.json."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    if present and not resume:
        raise ValueError(f"{out}: already holds a run ({', '.join(present)}); pass --resume to continue it "
                         "or choose another --out")
    last = out / "last.ckpt"
    if not (resume and last.is_file()):
        return None
    saved_path = out / "config.json"
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        for section in MATCHED_SECTIONS:
            if saved.get("config", {}).get(section) != resolved[section]:
                raise ValueError(f"{saved_path}: --resume with a different '{section}' config than the saved run")
    return last


def _store_record(dm) -> dict:
    def record(dataset) -> dict:
        from sciffusion.domains.video.zarr_store import open_video_store

        attrs = dict(open_video_store(dataset.path).attrs) if dataset is not None else {}
        return {"path": str(dataset.path), "clips": len(dataset.clips), "first_clips": dataset.clips[:8],
                "attrs": {k: v for k, v in attrs.items() if k != "class_balance"}}

    return {"train": record(dm.train_set), "val": record(dm.val_set)}


def _check_frames(model, dm) -> None:
    c, h, w = dm.frame_shape
    if (c, h, w) != (model.channels, model.size, model.size):
        raise ValueError(f"{dm.config.train}: frames are {h}x{w}x{c}, the model section says "
                         f"{model.size}x{model.size}x{model.channels}")


def run_train(cfg: VideoTrainRunConfig) -> dict:
    """Train; returns {"steps", "stopped", "train_clips", "val_clips", "seconds", "out", "parameters"}."""
    import pytorch_lightning as pl

    from sciffusion.common.networks.blocks import count_parameters
    from sciffusion.common.training.callbacks import StepProgressBar, TimeBudget, stop_reason
    from sciffusion.common.training.module import DiffusionModule
    from sciffusion.domains.video.datamodule import VideoDataModule
    from sciffusion.domains.video.model import model_file
    from sciffusion.pipelines.video.train_files import RunFiles

    conf, sched = cfg.config, cfg.config.schedule
    resolved = conf.to_dict()
    resume_from = check_run_dir(cfg.out, cfg.resume, resolved)
    dm = VideoDataModule(conf.data)
    dm.setup("fit")
    _check_frames(conf.model, dm)
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cfg.out / "config.json", json.dumps({
        "command": "sciffusion video train", "config": resolved, "stores": _store_record(dm),
        "versions": package_versions(VERSIONED_PACKAGES)}, indent=1))

    pl.seed_everything(conf.train.seed, workers=True, verbose=False)
    net = conf.model.network()
    module = DiffusionModule(net, conf.train)
    train_dict = conf.train.to_dict()

    def write_model(pl_module, step: int) -> dict:
        return model_file(pl_module.ema.shadow, conf.model, train_dict, {"step": step, "data": resolved["data"]})

    files = RunFiles(cfg.out, write_model, sched.log_every, sched.checkpoint_every)
    callbacks: list = [files]
    budget = None
    if sched.minutes is not None:
        budget = TimeBudget(sched.minutes)
        callbacks.append(budget)
    if cfg.progress:
        callbacks.append(StepProgressBar())
    trainer = pl.Trainer(
        accelerator="gpu" if cfg.accelerator == "cuda" else cfg.accelerator,
        devices=cfg.devices if cfg.devices == "auto" else int(cfg.devices),
        max_steps=-1 if sched.max_steps is None else sched.max_steps, max_epochs=-1,
        val_check_interval=sched.val_every, check_val_every_n_epoch=None, num_sanity_val_steps=0,
        precision=sched.precision, logger=False, enable_checkpointing=False, enable_progress_bar=cfg.progress,
        enable_model_summary=False, callbacks=callbacks, gradient_clip_val=None)
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm, ckpt_path=resume_from)
    validated = {int(r["step"]) for r in files.rows if r.get("val_loss") not in (None, "")}
    if trainer.global_step not in validated:
        trainer.validate(module, datamodule=dm, verbose=False)  # RunFiles records the final val row
    files.save(trainer, module)
    return {"steps": int(trainer.global_step), "stopped": stop_reason(trainer, budget),
            "train_clips": len(dm.train_set), "val_clips": len(dm.val_set), "seconds": time.perf_counter() - start,
            "out": str(cfg.out), "parameters": count_parameters(net)}


__all__ = ["VideoTrainRunConfig", "check_run_dir", "run_train"]
