"""``sciffusion video train``: a video model through the core's ``DiffusionModule``.

Flow: read the config (YAML/JSON), open the stores through :class:`~sciffusion.domains.video.datamodule.
VideoDataModule` (split from the store's metadata), build the network of the model section, train with
a step and/or time budget. Files: :mod:`~sciffusion.pipelines.video.train_files` (last.ckpt,
model.ckpt, curves.csv/png) and ``config.json`` (the resolved config, the stores with their attrs and
clip counts, the package versions).

Resume: ``resume=True`` continues from RUN_DIR/last.ckpt (step, optimiser, EMA, curves; the per-step
σ/noise draws are seeded by the step, so nothing is lost) when it exists and starts afresh otherwise;
the model and data sections must match config.json. Without it a RUN_DIR holding run files is refused.

Fine-tuning: ``init_from`` (a model file of an earlier run, or a bundled ``domains/video/data/*.pt``)
gives a fresh run its starting weights (network and EMA; optimiser, step and curves start anew). Its
model section must equal the config's; config.json records the file, its sha256 and its step.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from sciffusion.common.io.atomic import write_text_atomic
from sciffusion.common.io.provenance import file_sha256, package_versions
from sciffusion.common.training import run_files
from sciffusion.common.training.run_files import RUN_FILES  # noqa: F401 (re-exported)
from sciffusion.common.training.trainer import check_devices
from sciffusion.common.io.outputs import refuse_over_inputs
from sciffusion.pipelines.video.train_config import VideoTrainConfig

MATCHED_SECTIONS = ("model", "data")
VERSIONED_PACKAGES = ("sciffusion", "torch", "pytorch-lightning", "zarr")


@dataclass(frozen=True)
class VideoTrainRunConfig:
    """out: RUN_DIR; config: the resolved :class:`VideoTrainConfig`; resume: continue from last.ckpt;
    init_from: a model file whose weights start a fresh run (module docstring); accelerator / devices:
    Lightning's; progress: a progress bar."""

    out: Path
    config: VideoTrainConfig
    resume: bool = False
    init_from: Optional[Path] = None
    accelerator: str = "auto"
    devices: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        sched = self.config.schedule
        if sched.max_steps is None and sched.minutes is None:
            raise ValueError("--max-steps/--minutes: give at least one budget (in the config or on the command line)")
        check_devices(self.accelerator, self.devices)
        if self.init_from is not None and not Path(self.init_from).is_file():
            raise FileNotFoundError(f"--init-from: {self.init_from}: no such model file")
        refuse_over_inputs("--out", self.out, {"data": self.config.data.train, "validation data": self.config.data.val})
        taken = next((p for p in (Path(self.out), *Path(self.out).parents) if p.exists()), None)
        if taken is not None and not taken.is_dir():
            raise NotADirectoryError(f"--out: {self.out}: {taken} is a file; RUN_DIR is a folder (choose another path)")


def check_run_dir(out: Path, resume: bool, resolved: dict) -> Optional[Path]:
    """The checkpoint to resume from (None: a fresh start); refuses a used RUN_DIR without ``resume`` and a
    resume whose model/data sections differ from config.json."""
    from sciffusion.common.io.checkpoint import load_checkpoint

    try:
        last = run_files.check_run_dir(out, resume, resolved, MATCHED_SECTIONS,
                                       normalise=lambda saved: VideoTrainConfig.from_dict(saved).to_dict())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{out / 'config.json'}: not valid JSON ({exc}); the run cannot be resumed") from None
    if last is not None:
        load_checkpoint(last)  # a cut or foreign last.ckpt: one line naming it, not Lightning's traceback
    return last


def _store_record(dm) -> dict:
    """config.json's record of the training and validation stores; ``assumed`` is what was assumed for a
    plain store (written by another tool, without our attrs), None for ours."""
    def record(dataset) -> dict:
        from sciffusion.domains.video.zarr_store import open_video_store

        store = open_video_store(dataset.path)
        attrs = dict(store.attrs)
        return {"path": str(dataset.path), "clips": len(dataset.clips), "first_clips": dataset.clips[:8],
                "attrs": {k: v for k, v in attrs.items() if k != "class_balance"}, "assumed": store.assumed}

    return {"train": record(dm.train_set), "val": record(dm.val_set)}


def data_fingerprints(data) -> dict:
    """``{"train": ..., "val": ...}``: :func:`~sciffusion.domains.video.zarr_store.video_fingerprint` of the
    training and validation stores (val None when the validation clips come from the training store),
    recorded in the model file so benchmarks can refuse the clips it was trained on under any path."""
    from sciffusion.domains.video.zarr_store import open_video_store, video_fingerprint

    return {"train": video_fingerprint(open_video_store(data.train)),
            "val": None if data.val is None else video_fingerprint(open_video_store(data.val))}


def initial_weights(path: Path, model_config) -> tuple[dict, dict]:
    """(EMA weights, record for config.json) of the model file ``path``, whose model section must equal
    ``model_config``; one-line ValueError naming the fields that differ."""
    from sciffusion.domains.video.model import read_model_file, training_steps

    loaded = read_model_file(path)
    if loaded.config != model_config:
        theirs, ours = loaded.config.to_dict(), model_config.to_dict()
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise ValueError(f"{path}: --init-from model differs from the config's model section in {', '.join(diff)}")
    return loaded.net.state_dict(), {"path": str(path), "sha256": file_sha256(path), "step": loaded.meta.get("step"),
                                     "total_steps": training_steps(loaded.meta)}


def lineage(step: int, init_record: Optional[dict]) -> dict:
    """The model file's meta entries for a run that started from ``init_record`` (None: from scratch, nothing
    to add): the starting file's name (not its path, which is this machine's), sha256 and steps, and
    ``total_steps``, the run's ``step`` plus the starting file's (its ``step`` for a record written before
    ``total_steps`` existed; unknown if the starting file recorded neither)."""
    if init_record is None:
        return {}
    before = init_record.get("total_steps", init_record.get("step"))
    return {"init_from": {"file": Path(init_record["path"]).name, "sha256": init_record["sha256"],
                          "step": init_record.get("step"), "total_steps": before},
            "total_steps": None if before is None else step + before}


def _check_frames(model, dm) -> None:
    c, h, w = dm.frame_shape
    if (c, h, w) != (model.channels, model.size, model.size):
        raise ValueError(f"{dm.config.train}: frames are {h}x{w}x{c}, the model section says "
                         f"{model.size}x{model.size}x{model.channels}")


def run_train(cfg: VideoTrainRunConfig, note: Optional[Callable[[str], None]] = None) -> dict:
    """Train; returns {"steps", "stopped", "train_clips", "val_clips", "seconds", "out", "parameters", "precision"}
    (``precision``: the Lightning precision that ran, ``auto`` resolved; also in RUN_DIR/config.json).
    ``note(line)`` is called before training with what was assumed for a plain store (no sciffusion attrs)."""
    import pytorch_lightning as pl

    from sciffusion.common.networks.blocks import count_parameters
    from sciffusion.common.training.callbacks import stop_reason
    from sciffusion.common.training.module import DiffusionModule
    from sciffusion.common.training.precision import resolve_precision
    from sciffusion.common.training.quiet import quiet_lightning
    from sciffusion.common.training.trainer import fit_or_interrupt, release_process_group, step_trainer
    from sciffusion.domains.video.datamodule import VideoDataModule
    from sciffusion.domains.video.model import model_file
    from sciffusion.pipelines.video.train_files import RunFiles

    conf, sched = cfg.config, cfg.config.schedule
    resolved = conf.to_dict()
    resume_from = check_run_dir(cfg.out, cfg.resume, resolved)
    dm = VideoDataModule(conf.data)
    dm.setup("fit")
    _check_frames(conf.model, dm)
    start_weights, init_record = (None, None)
    if resume_from is not None:  # the run's own starting weights stay on record
        init_record = json.loads((cfg.out / "config.json").read_text()).get("init_from")
    elif cfg.init_from is not None:
        start_weights, init_record = initial_weights(Path(cfg.init_from), conf.model)
    stores = _store_record(dm)
    for line in dict.fromkeys(r["assumed"] for r in stores.values() if r["assumed"]):  # once per store
        if note is not None:
            note(line)
    cfg.out.mkdir(parents=True, exist_ok=True)
    precision = resolve_precision(sched.precision, cfg.accelerator)  # what "auto" means on this machine
    write_text_atomic(cfg.out / "config.json", json.dumps({
        "command": "sciffusion video train", "config": resolved, "precision": precision, "stores": stores,
        "init_from": init_record, "versions": package_versions(VERSIONED_PACKAGES)}, indent=1))

    pl.seed_everything(conf.train.seed, workers=True, verbose=False)
    net = conf.model.network()
    if start_weights is not None:
        net.load_state_dict(start_weights)  # before DiffusionModule, whose EMA copies the network
    module = DiffusionModule(net, conf.train)
    train_dict = conf.train.to_dict()

    fingerprints = data_fingerprints(conf.data)

    def write_model(pl_module, step: int) -> dict:
        meta = {"step": step, "data": resolved["data"], "data_fingerprints": fingerprints,
                **lineage(step, init_record)}
        return model_file(pl_module.ema.shadow, conf.model, train_dict,
                          {**meta, "predict": dict(conf.predict)} if conf.predict else meta)

    files = RunFiles(cfg.out, write_model, sched.log_every, sched.checkpoint_every)
    with quiet_lightning():  # no start-up banners or tips in the command's output; warnings still show
        trainer, budget = step_trainer(
            [files], accelerator=cfg.accelerator, devices=cfg.devices, max_steps=sched.max_steps,
            minutes=sched.minutes, val_every=sched.val_every, progress=cfg.progress, precision=precision)
        start = time.perf_counter()
        fit_or_interrupt(trainer, module, cfg.out, datamodule=dm, ckpt_path=resume_from)
        if not files.validated(trainer.global_step):
            trainer.validate(module, datamodule=dm, verbose=False)  # RunFiles records the final val row
    files.save(trainer, module)
    release_process_group()  # after the last collective (the checkpoint barrier), on every rank
    return {"steps": int(trainer.global_step), "stopped": stop_reason(trainer, budget),
            "train_clips": len(dm.train_set), "val_clips": len(dm.val_set), "seconds": time.perf_counter() - start,
            "out": str(cfg.out), "parameters": count_parameters(net), "precision": precision}


__all__ = ["VideoTrainRunConfig", "check_run_dir", "data_fingerprints", "initial_weights", "lineage", "run_train"]
