"""``sciffusion dock``: place candidate molecules in a protein with a pose generator.

Flow: check the settings (:class:`DockConfig`) and that ``--out`` is free; read every ligand record
(bad ones are kept as failures); read the protein and resolve the pocket box once; prepare the receptor
once; then per batch of ``batch_size`` ligands (Lightning's predict loop): prepare each (heavy atoms,
``conformers`` seeded ETKDG start conformers, stereo checked), ask the
:class:`~sciffusion.domains.docking.pose_generators.PoseGenerator` for
``samples`` poses each, check that they are rigid moves + torsion changes of the start conformer
(bond lengths within 1e-3 Å, no flipped stereocentre), rank by confidence and write the ligand's folder
(:mod:`dock_outputs`). A ligand that fails anywhere is a ``failed`` row in ``summary.csv`` with its
reason; the rest are docked. Blind (no pocket given): the samples are spread over the best pockets
that :mod:`~sciffusion.domains.docking.pocket_finder` finds (``blind_pockets``) and ranked together.
The whole ``--out`` folder is built in a temporary sibling and moved into
place at the end; when no ligand docked nothing is left and a one-line ``ValueError`` is raised.

Randomness: ETKDG uses ``--seed``; each batch's ``torch.Generator`` is seeded from (``--seed``, the
batch's first input record), so a run repeats exactly with the same ``--seed`` and ``--batch-size``.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytorch_lightning as pl

from sciffusion.common.io.atomic import atomic_path, refuse_existing
from sciffusion.common.training.trainer import check_batches_per_process, release_process_group
from sciffusion.common.io.provenance import package_versions
from sciffusion.pipelines.docking.dock_inputs import DockConfig, device_of, existing_path, pocket_spec, resolve_generator
from sciffusion.pipelines.docking.dock_outputs import LigandResult, summary_csv_text, write_ligand_outputs

VERSIONED_PACKAGES = ("sciffusion", "torch", "rdkit", "gemmi", "numpy", "torch-geometric", "e3nn")
GEOMETRY_TOLERANCE = 1e-3
"""Å: largest bond-length change accepted from a generator (float32 poses far from the origin)."""

__all__ = ["DockConfig", "run_dock"]


def batch_seed(seed: int, first_record: int) -> int:
    """Seed of one batch's ``torch.Generator`` from the run seed and the batch's first input record."""
    import numpy as np

    return int(np.random.SeedSequence([seed, first_record]).generate_state(1, dtype=np.uint64)[0] >> 1)


@contextmanager
def progress_bar(enabled: bool, total: int, label: str = "dock") -> Iterator:
    """A rich progress bar over ``total`` items; yields ``advance(n, current_name)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    columns = (TextColumn(label + " {task.fields[current]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, disable=not enabled) as bar:
        task = bar.add_task(label, total=total, current="")

        def advance(n: int, current: str = "") -> None:
            bar.update(task, advance=n, current=current)

        yield advance


def failure_reason(exc: BaseException) -> str:
    """One line for a failed item: the message of a user error (ValueError, FileNotFoundError, which
    name their input), else the exception type and message; at most 300 characters of message."""
    text = " ".join(str(exc).split())[:300]
    return text if isinstance(exc, (ValueError, FileNotFoundError)) and text else f"{type(exc).__name__}: {text}"


def run_dock(cfg: DockConfig) -> dict:
    """Dock every ligand of ``cfg.ligand`` into ``cfg.protein``; returns counts and the output paths.

    The ligands go through Lightning's predict loop (:class:`DockPredictModule`): with ``cfg.devices`` ×
    ``cfg.num_nodes`` = W > 1 processes each rank docks its share of the ligands and writes it, complete
    (ligand folders, ``summary.csv``, ``timing.csv``, ``config.json``), to ``OUT.shard<r>of<W>``.

    Raises ValueError/FileNotFoundError (one line) for bad settings, an existing ``--out`` without
    ``overwrite``, an unreadable protein/ligand file or pocket, or when not one ligand docked.
    """
    from sciffusion.domains.docking.ligand_inputs import read_ligand_inputs
    from sciffusion.domains.docking.pockets import resolve_pocket
    from sciffusion.domains.docking.pose_generators import PreparedReceptor
    from sciffusion.domains.docking.protein import read_protein

    refuse_existing(cfg.out, cfg.overwrite)
    device_of(cfg.device)
    generator = resolve_generator(cfg)
    inputs = read_ligand_inputs(cfg.ligand)
    protein = read_protein(cfg.protein)
    box = resolve_pocket(pocket_spec(cfg), protein)
    receptor = PreparedReceptor.from_protein(protein)
    boxes = search_boxes(cfg, protein, box)
    start = time.perf_counter()
    module = DockPredictModule(cfg, generator, receptor, protein, boxes)
    try:
        with progress_bar(cfg.progress, len(inputs)) as advance:
            module.advance = advance
            results = _predict(module, cfg, inputs)
        out = module.output_path
        docked = [r for r in results if r.status == "ok"]
        if not docked:
            first = results[0].reason if results else "no ligands"
            if results and not first.startswith(f"{results[0].name}:"):
                first = f"{results[0].name}: {first}"
            source = str(cfg.ligand)
            if len(source) > 60 and existing_path(source) is None:  # a long SMILES: its start names it
                source = source[:57] + "..."
            raise ValueError(f"{source}: no ligand docked, all {len(results)} failed (first: {first})")
        tmp = module.staging
        (tmp / "summary.csv").write_text(summary_csv_text(results))
        (tmp / "timing.csv").write_text("id,seconds\n" + "".join(f"{r.name},{r.seconds:.3f}\n" for r in docked))
        record = _config_record(cfg, generator, protein, box, results)
        record["search_boxes"] = [{"center": list(b.center), "size": list(b.size)} for b in boxes]
        record["shard"] = {"rank": module.rank, "world_size": module.world_size}
        (tmp / "config.json").write_text(json.dumps(record, indent=1))
    except BaseException as exc:
        module.close(exc)
        raise
    module.close(None)
    return {"ligands": len(results), "docked": len(docked), "failed": len(results) - len(docked),
            "seconds": time.perf_counter() - start, "out": str(out), "pocket": cfg.pocket_kind,
            "box_center": list(box.center), "box_size": list(box.size)}


def _lightning_devices(cfg: DockConfig) -> tuple[str, object]:
    """(accelerator, devices) for Lightning from ``--device`` and ``--devices``: ``cuda:1`` with one
    device pins that GPU."""
    device = device_of(cfg.device)
    if device.type == "cpu":
        return "cpu", cfg.devices
    return "gpu", [device.index] if device.index is not None and cfg.devices == 1 else cfg.devices


def _predict(module: "DockPredictModule", cfg: DockConfig, inputs) -> list[LigandResult]:
    """Every input of this rank through ``Trainer.predict`` (batches of ``cfg.batch_size`` ligands)."""
    import torch

    accelerator, devices = _lightning_devices(cfg)
    check_batches_per_process(-(-len(inputs) // cfg.batch_size), devices, cfg.num_nodes, "ligands")
    from sciffusion.common.training.quiet import quiet_lightning

    with quiet_lightning():  # no "GPU available: ..." banner in the command's output
        # no inference mode (plain no_grad): refinement and guidance take gradients inside the step
        trainer = pl.Trainer(accelerator=accelerator, devices=devices, num_nodes=cfg.num_nodes, logger=False,
                             enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=False,
                             inference_mode=False)
        loader = torch.utils.data.DataLoader(inputs, batch_size=cfg.batch_size, shuffle=False, collate_fn=list)
        outputs = trainer.predict(module, loader, return_predictions=True)
        release_process_group()  # each rank writes its own shard: no collective follows
    if module.staging is None:  # no batch on this rank (more processes than ligand batches)
        module.open()
    return [result for batch in outputs or [] for result in batch.results]


class DockPredictModule(pl.LightningModule):
    """Lightning's predict loop over batches of :class:`~.dock_inputs` ligand records: each
    ``predict_step`` prepares, generates, checks and writes one batch (:func:`_dock_batch`) into this
    rank's staging folder (opened on the first batch, moved into place by :meth:`close`)."""

    def __init__(self, cfg: DockConfig, generator, receptor, protein, boxes) -> None:
        super().__init__()
        self.cfg, self.generator, self.receptor, self.protein, self.boxes = cfg, generator, receptor, protein, boxes
        self.advance = None
        self.staging: Path | None = None
        self._stack = None

    @property
    def rank(self) -> int:
        return int(self.global_rank) if self._trainer is not None else 0

    @property
    def world_size(self) -> int:
        return int(self.trainer.world_size) if self._trainer is not None else 1

    @property
    def output_path(self) -> Path:
        """``--out``, or ``OUT.shard<r>of<W>`` when W > 1 processes share the ligands."""
        if self.world_size == 1:
            return self.cfg.out
        return self.cfg.out.with_name(f"{self.cfg.out.name}.shard{self.rank}of{self.world_size}")

    def open(self) -> Path:
        from contextlib import ExitStack

        self._stack = ExitStack()
        self.staging = self._stack.enter_context(atomic_path(self.output_path, overwrite=self.cfg.overwrite))
        self.staging.mkdir()
        return self.staging

    def close(self, error: BaseException | None) -> None:
        """Move the staging folder into place (``error`` None) or remove it."""
        if self._stack is None:
            return
        stack, self._stack = self._stack, None
        if error is None:
            stack.close()
        else:
            stack.__exit__(type(error), error, error.__traceback__)

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # ligand records, not tensors: each step builds its tensors on self.device

    def predict_step(self, batch, batch_idx: int) -> "_BatchResults":
        if self.staging is None:
            self.open()
        results = _dock_batch(batch, self.cfg, self.generator, self.receptor, self.protein, self.boxes, self.staging,
                              self.device)
        if self.advance is not None:
            self.advance(len(batch), batch[-1].name)
        return _BatchResults(results)


class _BatchResults:
    """One batch's :class:`LigandResult` list, opaque to Lightning's output handling (which would
    try to move frozen dataclasses to a device)."""

    __slots__ = ("results",)

    def __init__(self, results: list[LigandResult]) -> None:
        self.results = results


def search_boxes(cfg: DockConfig, protein, box) -> list:
    """Where the samples go: the pocket box, or blind (no pocket given) the ``cfg.blind_pockets``
    best pockets of :func:`~sciffusion.domains.docking.pocket_finder.find_pockets` (the whole-protein
    box when it finds none)."""
    if cfg.pocket_kind != "blind":
        return [box]
    from sciffusion.domains.docking.pocket_finder import find_pockets

    found = find_pockets(protein.atom_pos, cfg.blind_pockets)
    return [p.box for p in found] or [box]


def split_samples(samples: int, parts: int) -> list[int]:
    """``samples`` spread over ``parts`` as evenly as possible, earlier parts first; zeros dropped."""
    counts = [samples // parts + (i < samples % parts) for i in range(parts)]
    return [c for c in counts if c > 0]


def _generate(generator, receptor, ligands, boxes, samples: int, rng) -> list:
    """One pose set per ligand with ``samples`` poses spread over ``boxes`` (a ``search_box`` property
    says which box a pose was searched in when there are several)."""
    from sciffusion.domains.docking.pose_generators import merge_pose_sets

    counts = split_samples(samples, len(boxes))
    per_box = [generator.generate(receptor, ligands, box, k, rng) for box, k in zip(boxes, counts)]
    if len(per_box) == 1:
        return per_box[0]
    return [merge_pose_sets([sets[i] for sets in per_box], "search_box") for i in range(len(ligands))]


def _dock_batch(batch, cfg: DockConfig, generator, receptor, protein, boxes, out: Path, device
                ) -> list[LigandResult]:
    """Prepare, generate, check and write one batch; one :class:`LigandResult` per input, in order."""
    import torch

    from sciffusion.domains.docking.ligand_inputs import prepare_ligand

    results: dict[int, LigandResult] = {}
    prepared, prep_seconds = [], {}
    for item in batch:
        t0 = time.perf_counter()
        try:
            prepared.append((item, prepare_ligand(item, seed=cfg.seed, keep_conformer=cfg.keep_conformer,
                                                  max_heavy_atoms=cfg.max_heavy_atoms, conformers=cfg.conformers)))
        except ValueError as exc:
            results[item.index] = LigandResult(item.name, item.smiles, "failed", failure_reason(exc),
                                               seconds=time.perf_counter() - t0, input_record=item.index)
        prep_seconds[item.index] = time.perf_counter() - t0
    if prepared:
        t0 = time.perf_counter()
        rng = torch.Generator(device=device).manual_seed(batch_seed(cfg.seed, prepared[0][0].index))
        try:
            pose_sets = _generate(generator, receptor, [lig for _, lig in prepared], boxes, cfg.samples, rng)
            if len(pose_sets) != len(prepared):
                raise ValueError(f"pose generator returned {len(pose_sets)} pose sets for {len(prepared)} ligands")
            error = None
        except Exception as exc:  # a failed batch is recorded per ligand, never stops the run
            pose_sets, error = [None] * len(prepared), failure_reason(exc)
        share = (time.perf_counter() - t0) / len(prepared)
        for (item, ligand), poses in zip(prepared, pose_sets):
            t1 = time.perf_counter()
            try:
                if error is not None:
                    raise ValueError(error)
                result = _write_one(item, ligand, poses, cfg, protein, out)
            except Exception as exc:  # recorded with its reason in summary.csv
                result = LigandResult(item.name, item.smiles, "failed", failure_reason(exc), input_record=item.index)
            seconds = prep_seconds[item.index] + share + time.perf_counter() - t1
            results[item.index] = LigandResult(**{**result.__dict__, "seconds": seconds})
    return [results[item.index] for item in batch]


def _write_one(item, ligand, poses, cfg: DockConfig, protein, out: Path) -> LigandResult:
    from sciffusion.domains.docking.pose_generators import pose_geometry_errors

    if poses.pos.shape[0] != cfg.samples:
        raise ValueError(f"pose generator returned {poses.pos.shape[0]} poses, expected {cfg.samples}")
    errors = pose_geometry_errors(ligand, poses.pos, poses.conformer)
    if errors["bond_length"] > GEOMETRY_TOLERANCE or errors["chirality_flips"]:
        raise ValueError(f"poses are not rigid moves + torsion changes of the start conformer (bond lengths changed "
                         f"by up to {errors['bond_length']:.2g} Å, {int(errors['chirality_flips'])} stereocentre flips)")
    ranked = poses.ranked()
    contacts, pb_tags = write_ligand_outputs(out / item.name, ligand, ranked, protein, cfg.top_k,
                                             posebusters_protein=cfg.protein if cfg.posebusters else None)
    return LigandResult(item.name, item.smiles, "ok", n_poses=int(ranked.pos.shape[0]),
                        top_confidence=float(ranked.confidence[0]), input_record=item.index,
                        rank1_contacts=" ".join(c.label for c in contacts),
                        rank1_pb_valid=None if pb_tags is None else pb_tags[0]["pb_valid"] == "1")


def _config_record(cfg: DockConfig, generator, protein, box, results: list[LigandResult]) -> dict:
    return {
        "command": "sciffusion dock",
        "config": cfg.record(),
        "generator": generator.describe(),
        "pocket": {"kind": cfg.pocket_kind, "center": list(box.center), "size": list(box.size)},
        "protein": {"path": str(cfg.protein), "atoms": protein.num_atoms, "residues": protein.num_residues,
                    "notes": list(protein.notes), "warnings": list(protein.warnings)},
        "ligands": {"input": len(results), "docked": sum(r.status == "ok" for r in results),
                    "failed": sum(r.status != "ok" for r in results)},
        "versions": package_versions(VERSIONED_PACKAGES),
    }
