"""``sciffusion docking train``: the pose-diffusion score model on a prepared cache.

Flow: read INDEX.csv (``split`` column: ``train`` rows train, ``val`` rows validate; any other split
is left out, and a ``test_public`` row or an id listed in ``--exclude-ids`` is refused), load the
cache entries (``<cache>/<id>.pt``; ids missing from the cache, e.g. failed in ``prepare``, are
counted and skipped), then train :class:`~sciffusion.domains.docking.pose_diffusion.PoseScoreNet`
through the core's :class:`~sciffusion.common.training.product_module.ProductDiffusionModule`
(product DSM loss, t ~ U(0, 1), AdamW, EMA) with a step and/or time budget and a progress bar.
Files: :mod:`train_files` (last.ckpt, model.ckpt, curves.csv/png) and ``config.json`` (the resolved
config, the ids of both splits with their sha256 and counts, the cache, versions).

Resume: ``--resume`` continues from RUN_DIR/last.ckpt (step count, optimiser, EMA, curves) when it
exists and starts afresh otherwise; the model, process and data settings must match config.json.
Without ``--resume`` a RUN_DIR that already holds run files is refused.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sciffusion.common.io.atomic import write_text_atomic
from sciffusion.common.io.provenance import file_sha256, package_versions
from sciffusion.common.training.run_files import RUN_FILES, check_run_dir  # noqa: F401 (RUN_FILES re-exported)
from sciffusion.common.training.trainer import check_devices
from sciffusion.pipelines.docking.train_config import DockTrainConfig

TEST_SPLIT = "test_public"
MATCHED_SECTIONS = ("model", "process", "data")
"""config.json sections a resumed run must share with the new config."""
VERSIONED_PACKAGES = ("sciffusion", "torch", "pytorch-lightning", "e3nn", "torch-geometric")


@dataclass(frozen=True)
class TrainRunConfig:
    """cache: folder of ``<id>.pt``. index: INDEX.csv with a ``split`` column. out: RUN_DIR.
    config: the resolved :class:`DockTrainConfig`. exclude_ids: file of ids that must not be trained
    or validated on (one per line, e.g. splits/test_public.txt). resume: continue from last.ckpt.
    accelerator / devices: Lightning's (``auto``/``cpu``/``gpu``; ``auto`` or a count). progress: bar.
    init_from: a model file (``model.ckpt`` of an earlier run) whose score-model weights start a fresh
    run (fine-tuning, e.g. the rigid process from a flexible run); its model config must equal this
    one's, and it is recorded in config.json."""

    cache: Path
    index: Path
    out: Path
    config: DockTrainConfig = DockTrainConfig()
    exclude_ids: Optional[Path] = None
    resume: bool = False
    accelerator: str = "auto"
    devices: str = "auto"
    progress: bool = True
    init_from: Optional[Path] = None

    def __post_init__(self) -> None:
        if not self.cache.is_dir():
            raise FileNotFoundError(f"{self.cache}: cache folder not found")
        if not self.index.is_file():
            raise FileNotFoundError(f"{self.index}: index file not found")
        if self.init_from is not None and not self.init_from.is_file():
            raise FileNotFoundError(f"{self.init_from}: --init-from model file not found")
        if self.exclude_ids is not None and not self.exclude_ids.is_file():
            raise FileNotFoundError(f"{self.exclude_ids}: --exclude-ids file not found")
        sched = self.config.schedule
        if sched.max_steps is None and sched.minutes is None:
            raise ValueError("--max-steps/--minutes: give at least one budget (in the config or on the command line)")
        check_devices(self.accelerator, self.devices)


def split_ids(index: Path, exclude_ids: Optional[Path]) -> dict[str, list[str]]:
    """{"train": ids, "val": ids} from INDEX.csv's ``split`` column; a ``test_public`` row, or a
    train/val id listed in ``exclude_ids``, is a one-line error naming it."""
    from sciffusion.domains.docking.index import read_index

    entries = read_index(index)
    test = [e.id for e in entries if e.split == TEST_SPLIT]
    if test:
        raise ValueError(f"{index}: {len(test)} row(s) of split {TEST_SPLIT} (first: {test[0]}); never train or "
                         "validate on the public test split, pass an index without them")
    splits = {name: [e.id for e in entries if e.split == name] for name in ("train", "val")}
    if exclude_ids is not None:
        banned = {line.strip() for line in exclude_ids.read_text().splitlines() if line.strip()}
        hit = sorted(banned.intersection(splits["train"] + splits["val"]))
        if hit:
            raise ValueError(f"{index}: {len(hit)} id(s) listed in {exclude_ids} are in train/val (first: {hit[0]})")
    if not splits["train"]:
        raise ValueError(f"{index}: no rows with split 'train'")
    return splits


def _load_entries(cache: Path, ids: list[str]) -> tuple[list[dict], list[str]]:
    from sciffusion.domains.docking.pose_dataset import read_prepared

    entries, missing = [], []
    for cid in ids:
        path = cache / f"{cid}.pt"
        if path.is_file():
            entries.append(read_prepared(path))
        else:
            missing.append(cid)
    return entries, missing


def _initial_weights(path: Path, model_config) -> dict:
    """The score-model weights of the model file ``path``; its model config must equal ``model_config``."""
    import dataclasses

    from sciffusion.common.io.checkpoint import load_checkpoint
    from sciffusion.domains.docking.pose_diffusion import model_from_file

    model, _, _ = model_from_file(load_checkpoint(path), str(path))
    if model.config != model_config:
        diff = {k: v for k, v in dataclasses.asdict(model.config).items() if getattr(model_config, k) != v}
        raise ValueError(f"{path}: --init-from model differs from the config's model in {sorted(diff)}")
    return model.state_dict()


def _ids_record(ids: list[str], missing: list[str]) -> dict:
    used = [i for i in ids if i not in set(missing)]
    return {"count": len(used), "sha256": hashlib.sha256("\n".join(used).encode()).hexdigest(), "ids": used,
            "missing_from_cache": missing}


def run_train(cfg: TrainRunConfig) -> dict:
    """Train; returns {"steps", "stopped" ("steps"/"time"/...), "train", "val", "seconds", "out", "precision"}
    (``precision``: the Lightning precision that ran, ``auto`` resolved; also in RUN_DIR/config.json)."""
    import time

    import pytorch_lightning as pl
    import torch

    from sciffusion.common.training.callbacks import stop_reason
    from sciffusion.common.training.precision import resolve_precision
    from sciffusion.common.training.product_module import ProductDiffusionModule
    from sciffusion.common.training.quiet import quiet_lightning
    from sciffusion.common.training.trainer import fit_or_interrupt, release_process_group, step_trainer
    from sciffusion.domains.docking.pose_dataset import ConformerSampler, PoseDataset, collate_training
    from sciffusion.domains.docking.pose_diffusion import PoseScoreNet, has_torsions
    from sciffusion.domains.docking.score_model import DockingScoreModel
    from sciffusion.pipelines.docking.train_files import RunFiles

    conf, sched = cfg.config, cfg.config.schedule
    resolved = conf.to_dict()
    splits = split_ids(cfg.index, cfg.exclude_ids)
    resume_from = check_run_dir(cfg.out, cfg.resume, resolved, MATCHED_SECTIONS)
    train_entries, train_missing = _load_entries(cfg.cache, splits["train"])
    val_entries, val_missing = _load_entries(cfg.cache, splits["val"])
    if not train_entries:
        raise ValueError(f"{cfg.cache}: none of the {len(splits['train'])} train ids has a cache entry")
    precision = resolve_precision(sched.precision, cfg.accelerator)  # what "auto" means on this machine
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cfg.out / "config.json", json.dumps({
        "command": "sciffusion docking train", "config": resolved, "precision": precision, "cache": str(cfg.cache),
        "index": str(cfg.index),
        "exclude_ids": None if cfg.exclude_ids is None else str(cfg.exclude_ids),
        "init_from": None if cfg.init_from is None else {"path": str(cfg.init_from),
                                                         "sha256": file_sha256(cfg.init_from)},
        "splits": {"train": _ids_record(splits["train"], train_missing),
                   "val": _ids_record(splits["val"], val_missing)},
        "versions": package_versions(VERSIONED_PACKAGES)}, indent=1))

    seed = conf.product.train.seed
    pl.seed_everything(seed, workers=True, verbose=False)
    train_set = PoseDataset(train_entries, conf.data)
    collate = functools.partial(collate_training, torsions=has_torsions(conf.product.process))
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=sched.batch_size, sampler=ConformerSampler(train_set.conformer_counts, seed),
        collate_fn=collate, num_workers=sched.num_workers, drop_last=len(train_set) > sched.batch_size)
    val_loader = None
    if val_entries:
        val_set = PoseDataset(val_entries, conf.data)
        val_loader = torch.utils.data.DataLoader(
            val_set, batch_size=sched.val_batch_size, collate_fn=collate, num_workers=sched.num_workers,
            sampler=ConformerSampler(val_set.conformer_counts, seed, shuffle=False, fixed_conformer=0))
    score_model = DockingScoreModel(conf.model)
    if cfg.init_from is not None and resume_from is None:
        score_model.load_state_dict(_initial_weights(cfg.init_from, conf.model))
    module = ProductDiffusionModule(PoseScoreNet(score_model, conf.product.process), conf.product)
    files = RunFiles(cfg.out, conf.data.to_dict(), sched.log_every, sched.checkpoint_every)
    with quiet_lightning():  # no start-up banners or tips in the command's output; warnings still show
        trainer, budget = step_trainer(
            [files], accelerator=cfg.accelerator, devices=cfg.devices, max_steps=sched.max_steps,
            minutes=sched.minutes, val_every=sched.val_every if val_loader is not None else None,
            progress=cfg.progress, precision=precision)
        start = time.perf_counter()
        fit_or_interrupt(trainer, module, cfg.out, train_dataloaders=loader, val_dataloaders=val_loader,
                         ckpt_path=resume_from)
        if val_loader is not None and not files.validated(trainer.global_step):
            trainer.validate(module, val_loader, verbose=False)  # RunFiles records the final val row
    files.save(trainer, module)
    release_process_group()  # after the last collective (the checkpoint barrier), on every rank
    return {"steps": int(trainer.global_step), "stopped": stop_reason(trainer, budget),
            "train": len(train_entries), "val": len(val_entries), "seconds": time.perf_counter() - start,
            "out": str(cfg.out), "precision": precision}


__all__ = ["TrainRunConfig", "run_train", "split_ids"]
