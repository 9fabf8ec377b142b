"""``sciffusion docking train-confidence``: fit the pose confidence model on the score model's own samples.

Flow: read INDEX.csv (train and val rows; a ``test_public`` row is refused, :func:`train.split_ids`);
for every train and val complex (the first ``limit`` of each with ``limit``) dock the crystal ligand
as ``sciffusion dock`` would: a :class:`~.dock_inputs.DockConfig` with the pocket around the crystal
ligand (``--ref-ligand`` = the row's ``pocket_ligand``, else its ``ligand``; margin 4 Å), seeded
ETKDG start conformers (``conformers``, :func:`ligand_inputs.prepare_ligand`) and ``samples`` poses
from the learned generator (``steps`` steps of its default sampler). Each pose gets its symmetry-corrected heavy-atom
RMSD to the crystal ligand (:func:`pose_metrics.pose_rmsd`, no alignment), the label RMSD < 2 Å and
:func:`confidence.pose_features`. A complex that fails anywhere is recorded with its reason and
skipped. The model is fitted on train poses and reported on val poses: AUROC of the confidence for
RMSD < 2 Å (pooled over poses) and top-1 success (rank-1 pose within 2 Å) when ranking by the learned
confidence, by :func:`pose_generators.clash_confidence` and by the oracle (best of K).

Writes OUT/confidence.ckpt (:meth:`ConfidenceModel.to_file`), OUT/samples.csv (one row per pose),
OUT/failures.csv and OUT/report.json; OUT appears all at once at the end (``atomic_path``).
Randomness: ETKDG uses ``seed``; complex number i (0-based over the chosen rows) samples with a
``torch.Generator`` seeded from (``seed``, i), so a run repeats exactly.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sciffusion.common.io.atomic import atomic_path, refuse_existing
from sciffusion.domains.docking.confidence import ConfidenceFitConfig
from sciffusion.pipelines.docking.dock import failure_reason, progress_bar
from sciffusion.pipelines.docking.dock_inputs import resolve_generator

if TYPE_CHECKING:
    from torch import Tensor

SPLITS = ("train", "val")


@dataclass(frozen=True)
class ConfidenceTrainConfig:
    """model: score-model file (``sciffusion docking train``'s ``model.ckpt``); index: INDEX.csv with
    train/val rows; out: output folder (refused if it exists unless ``overwrite``); samples: poses per
    complex (K); steps: reverse-diffusion steps; conformers: ETKDG start conformers per ligand (as
    ``sciffusion dock --conformers``); seed; limit: only the first N train and first N val
    rows; device: torch device of the score model; fit: the classifier's settings; label_rmsd: a pose
    is a positive when its RMSD is below this (Å; 2 by default, DiffDock's label; a weak score model
    whose samples are rarely within 2 Å needs a looser label to have positives to learn from — the
    report still scores top-1 success at 2 Å)."""

    model: Path
    index: Path
    out: Path
    samples: int = 16
    steps: int = 20
    conformers: int = 4
    seed: int = 0
    limit: int | None = None
    device: str = "cpu"
    overwrite: bool = False
    progress: bool = True
    fit: ConfidenceFitConfig = field(default_factory=ConfidenceFitConfig)
    label_rmsd: float = 2.0

    def __post_init__(self) -> None:
        for flag, value in (("--samples", self.samples), ("--steps", self.steps), ("--conformers", self.conformers)):
            if value < 1:
                raise ValueError(f"{flag}: must be >= 1, got {value}")
        if self.samples < 2:
            raise ValueError(f"--samples: must be >= 2 (the consensus features compare samples), got {self.samples}")
        if not (0 < self.label_rmsd < float("inf")):
            raise ValueError(f"--label-rmsd: must be a finite number > 0 Å, got {self.label_rmsd}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit: must be >= 1, got {self.limit}")
        if not 0 <= self.seed <= 2**32 - 1:
            raise ValueError(f"--seed: must be an integer in [0, {2**32 - 1}], got {self.seed}")
        if not Path(self.model).is_file():
            raise FileNotFoundError(f"{self.model}: score-model file not found (--model)")
        if not Path(self.index).is_file():
            raise FileNotFoundError(f"{self.index}: index file not found (--index)")

    def record(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ComplexSamples:
    """The K poses of one complex: ``rmsd`` [K] Å to the crystal pose, ``features`` [K, F]
    (:func:`pose_features`), ``clash`` [K] (:func:`clash_confidence`'s confidence)."""

    id: str
    split: str
    rmsd: Tensor
    features: Tensor
    clash: Tensor


def dock_config(entry, cfg: ConfidenceTrainConfig):
    """The ``sciffusion dock`` settings for one index row: its crystal ligand docked into its pocket."""
    from sciffusion.pipelines.docking.dock_inputs import DockConfig

    return DockConfig(protein=entry.protein, ligand=str(entry.ligand), out=cfg.out / f".dock_{entry.id}",
                      ref_ligand=entry.pocket_ligand or entry.ligand, samples=cfg.samples, top_k=1,
                      steps=cfg.steps, seed=cfg.seed, device=cfg.device, model=str(cfg.model),
                      conformers=cfg.conformers, progress=False)


def sample_complex(entry, split: str, number: int, generator, cfg: ConfidenceTrainConfig) -> ComplexSamples:
    """Dock one complex's crystal ligand (module docstring) and score its K poses against the crystal pose."""
    import torch

    from sciffusion.domains.docking.confidence import pose_features
    from sciffusion.domains.docking.conformers import with_positions
    from sciffusion.domains.docking.ligand_inputs import prepare_ligand, read_ligand_inputs
    from sciffusion.domains.docking.ligand_io import read_ligand
    from sciffusion.domains.docking.pockets import resolve_pocket
    from sciffusion.domains.docking.pose_generators import PreparedReceptor, clash_confidence
    from sciffusion.domains.docking.pose_metrics import pose_rmsd
    from sciffusion.domains.docking.protein import read_protein
    from sciffusion.pipelines.docking.dock import batch_seed
    from sciffusion.pipelines.docking.dock_inputs import device_of, pocket_spec

    dcfg = dock_config(entry, cfg)
    protein = read_protein(dcfg.protein)
    box = resolve_pocket(pocket_spec(dcfg), protein)
    receptor = PreparedReceptor.from_protein(protein)
    items = read_ligand_inputs(dcfg.ligand)
    if len(items) != 1:
        raise ValueError(f"{entry.ligand}: {len(items)} ligand records, expected 1")
    ligand = prepare_ligand(items[0], seed=cfg.seed, keep_conformer=False, max_heavy_atoms=dcfg.max_heavy_atoms,
                            conformers=dcfg.conformers)
    rng = torch.Generator(device=device_of(cfg.device)).manual_seed(batch_seed(cfg.seed, number))
    (poses,) = generator.generate(receptor, [ligand], box, cfg.samples, rng)
    pos = poses.pos.detach().cpu().to(torch.float64)
    crystal = read_ligand(entry.ligand).mol
    rmsd = torch.tensor([pose_rmsd(with_positions(ligand.mol, p), crystal) for p in pos], dtype=torch.float64)
    rec_pos = receptor.atoms["pos"].to(torch.float64)
    return ComplexSamples(entry.id, split, rmsd, pose_features(pos, rec_pos),
                          clash_confidence(pos, rec_pos)["confidence"])


def ranking_metrics(groups: list[ComplexSamples], confidences: list, success_rmsd: float) -> dict:
    """Pooled AUROC of ``confidences`` (one [K] tensor per complex) for RMSD < ``success_rmsd`` (None when
    a class is missing) and the top-1 success rate (rank-1 pose within ``success_rmsd``; ties go to the
    earlier sample)."""
    import torch

    from sciffusion.domains.docking.confidence import auroc

    if not groups:
        return {"complexes": 0}
    labels = torch.cat([g.rmsd < success_rmsd for g in groups])
    top1 = [bool(g.rmsd[torch.sort(c, descending=True, stable=True).indices[0]] < success_rmsd)
            for g, c in zip(groups, confidences)]
    top1_rmsd = [float(g.rmsd[torch.sort(c, descending=True, stable=True).indices[0]])
                 for g, c in zip(groups, confidences)]
    return {"complexes": len(groups), "poses": int(labels.numel()), "positive_poses": int(labels.sum()),
            "auroc": _finite(auroc(torch.cat(confidences), labels)), "top1_success": sum(top1) / len(groups),
            "top1_median_rmsd": float(torch.tensor(top1_rmsd).median())}


def _finite(value: float) -> float | None:
    return value if value == value else None


def evaluate_split(groups: list[ComplexSamples], model, success_rmsd: float) -> dict:
    """Learned (when ``model`` is not None) vs clash vs oracle ranking on the complexes of one split, and
    the pooled AUROC of each feature alone (``feature_auroc``; < 0.5: lower values mean success)."""
    import torch

    from sciffusion.domains.docking.confidence import FEATURE_NAMES, auroc

    out = {"clash_confidence": ranking_metrics(groups, [g.clash for g in groups], success_rmsd),
           "oracle": ranking_metrics(groups, [-g.rmsd for g in groups], success_rmsd)}
    if model is not None:
        out["learned"] = ranking_metrics(groups, [model.logits(g.features) for g in groups], success_rmsd)
    if groups:
        features = torch.cat([g.features for g in groups])
        labels = torch.cat([g.rmsd < success_rmsd for g in groups])
        out["feature_auroc"] = {name: _finite(auroc(features[:, i], labels)) for i, name in enumerate(FEATURE_NAMES)}
    return out


def chosen_rows(cfg: ConfidenceTrainConfig) -> list[tuple[str, object]]:
    """(split, index entry) of the train rows then the val rows (first ``limit`` of each)."""
    from sciffusion.domains.docking.index import read_index
    from sciffusion.pipelines.docking.train import split_ids

    splits = split_ids(cfg.index, None)
    entries = {e.id: e for e in read_index(cfg.index)}
    return [(split, entries[cid]) for split in SPLITS for cid in splits[split][:cfg.limit]]


def _generator(rows: list, cfg: ConfidenceTrainConfig):
    """The learned pose generator of ``cfg.model``, resolved as ``sciffusion dock`` does (from the first
    row whose dock settings are valid; a row with missing files fails later, on its own)."""
    for _, entry in rows:
        try:
            settings = dock_config(entry, cfg)
        except (ValueError, FileNotFoundError):
            continue
        return resolve_generator(settings)
    raise ValueError(f"{cfg.index}: no train/val row names an existing protein and ligand")


def run_confidence_train(cfg: ConfidenceTrainConfig) -> dict:
    """Sample, label, fit and report (module docstring); returns the report dict.

    Raises a one-line ValueError/FileNotFoundError for bad settings, an existing ``out`` without
    ``overwrite``, a bad index or model file, no train complex sampled, or train poses of only one
    class: then nothing can be fitted, and OUT is written without ``confidence.ckpt`` (samples.csv and
    report.json keep the samples and the clash/oracle numbers) before the error is raised.
    """
    import torch

    from sciffusion.domains.docking.confidence import SUCCESS_RMSD, ConfidenceModel

    refuse_existing(cfg.out, cfg.overwrite)
    rows = chosen_rows(cfg)
    generator = _generator(rows, cfg)
    start = time.perf_counter()
    groups: list[ComplexSamples] = []
    failures: list[tuple[str, str, str]] = []
    with progress_bar(cfg.progress, len(rows), "sample") as advance:
        for number, (split, entry) in enumerate(rows):
            try:
                groups.append(sample_complex(entry, split, number, generator, cfg))
            except Exception as exc:  # a failed complex is recorded with its reason, never stops the run
                failures.append((entry.id, split, failure_reason(exc)))
            advance(1, entry.id)
    train = [g for g in groups if g.split == "train"]
    val = [g for g in groups if g.split == "val"]
    if not train:
        first = failures[0] if failures else ("-", "-", "no rows")
        raise ValueError(f"{cfg.index}: no train complex could be sampled ({len(failures)} failed; first: "
                         f"{first[0]}: {first[2]})")
    labels = torch.cat([g.rmsd < cfg.label_rmsd for g in train])
    model, not_fitted = None, ""
    if labels.all() or not labels.any():
        not_fitted = (f"{cfg.index}: {int(labels.sum())} of {labels.numel()} train poses within {cfg.label_rmsd} A of "
                      f"the crystal pose; need both classes to fit the confidence model (samples in {cfg.out})")
    else:
        extra = {"score_model": str(cfg.model), "samples": cfg.samples, "steps": cfg.steps,
                 "conformers": cfg.conformers, "seed": cfg.seed, "train_complexes": len(train),
                 "train_poses": int(labels.numel()), "label_rmsd": cfg.label_rmsd}
        model = ConfidenceModel.fit(torch.cat([g.features for g in train]), labels, cfg.fit, extra=extra)
    report = {"command": "sciffusion docking train-confidence", "config": cfg.record(),
              "generator": generator.describe(), "success_rmsd": SUCCESS_RMSD, "label_rmsd": cfg.label_rmsd,
              "not_fitted": not_fitted,
              "train": evaluate_split(train, model, SUCCESS_RMSD), "val": evaluate_split(val, model, SUCCESS_RMSD),
              "val_at_label": evaluate_split(val, model, cfg.label_rmsd),
              "failed": [{"id": i, "split": s, "reason": r} for i, s, r in failures],
              "seconds": time.perf_counter() - start}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        if model is not None:
            torch.save(model.to_file(), tmp / "confidence.ckpt")
        (tmp / "samples.csv").write_text(samples_csv_text(groups, model))
        (tmp / "failures.csv").write_text("id,split,reason\n" + "".join(_csv_line(f) for f in failures))
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    if not_fitted:
        raise ValueError(not_fitted)
    return report


def _csv_line(values) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def samples_csv_text(groups: list[ComplexSamples], model) -> str:
    """One row per pose: id, split, sample, rmsd (Å), label, learned (empty without ``model``) and clash
    confidence, features."""
    from sciffusion.domains.docking.confidence import FEATURE_NAMES, SUCCESS_RMSD

    lines = [_csv_line(("id", "split", "sample", "rmsd", "label", "confidence", "clash_confidence", *FEATURE_NAMES))]
    for g in groups:
        learned = [""] * len(g.rmsd) if model is None else [f"{float(v):.5f}" for v in model.logits(g.features)]
        for k in range(len(g.rmsd)):
            lines.append(_csv_line((g.id, g.split, k, f"{float(g.rmsd[k]):.4f}", int(g.rmsd[k] < SUCCESS_RMSD),
                                    learned[k], f"{float(g.clash[k]):.4f}",
                                    *(f"{float(v):.5f}" for v in g.features[k]))))
    return "".join(lines)
