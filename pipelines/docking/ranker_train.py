"""``sciffusion docking train-ranker``: fit the learned pose ranking (:mod:`~sciffusion.domains.docking.pose_ranker`)
on docked training complexes, and say on validation complexes which ranking wins.

Input: PRED_DIRs of ``sciffusion dock`` or ``bench docking`` runs made with refinement and a learned
confidence (``<id>/poses.sdf`` holds every sampled pose with its properties; ``seed_*/`` runs are
read too) and their reference folders (``<id>_ligand.sdf``, the ``docking evaluate`` layout). Each pose's
label is heavy-atom RMSD < 2 Å to the crystal ligand. The rankings compared on every set: ``confidence``
(the learned confidence), ``vina`` (normalised Vina-like score), ``combined`` (Borda count of both),
``learned`` (this fit), and the oracle (best of the K poses, an upper bound).

Writes ``OUT/`` atomically: ``ranker.json`` (the ranker, its feature list, the training ids, the
metrics), ``table.txt`` (top-1 < 2 Å and median top-1 RMSD per ranking and set) and ``poses.csv``
(features, RMSD and set of every pose used).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

RANKINGS = ("confidence", "vina", "combined", "learned", "oracle")


@dataclass(frozen=True)
class RankerTrainConfig:
    """``train``: (PRED_DIR, REF_DIR) pairs fitted on; ``val``: pairs only evaluated; ``out`` folder;
    ``l2`` penalty of the logistic fit."""

    train: tuple[tuple[Path, Path], ...]
    out: Path
    val: tuple[tuple[Path, Path], ...] = ()
    l2: float = 1e-2
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.train:
            raise ValueError("--train: give at least one PRED_DIR=REF_DIR pair")
        for flag, pairs in (("--train", self.train), ("--val", self.val)):
            for pred, ref in pairs:
                if not Path(pred).is_dir():
                    raise FileNotFoundError(f"{pred}: prediction folder not found ({flag})")
                if not Path(ref).is_dir():
                    raise FileNotFoundError(f"{ref}: reference folder not found ({flag})")
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise ValueError(f"--l2: must be a finite number >= 0, got {self.l2}")


def parse_pair(item: str, flag: str) -> tuple[Path, Path]:
    """``PRED_DIR=REF_DIR`` → (pred, ref); one-line error otherwise."""
    pred, sep, ref = item.partition("=")
    if not sep or not pred.strip() or not ref.strip():
        raise ValueError(f"{flag}: expected PRED_DIR=REF_DIR, got {item!r}")
    return Path(pred.strip()), Path(ref.strip())


def read_pose_groups(pred: Path, ref: Path) -> list[dict]:
    """One group per (seed run, complex) with a ``poses.sdf``: {id, seed, properties {name: [K] float64},
    rmsd [K] Å}. Properties are every numeric SD property the poses share."""
    import torch
    from rdkit import Chem

    from sciffusion.domains.docking.pose_metrics import pose_rmsd
    from sciffusion.pipelines.docking.evaluate import reference_files, seed_runs

    groups = []
    for seed, run in seed_runs(pred).items():
        for folder in sorted(p for p in run.iterdir() if (p / "poses.sdf").is_file()):
            ligand, _ = reference_files(ref, folder.name)
            crystal = Chem.MolFromMolFile(str(ligand))
            mols = [m for m in Chem.SDMolSupplier(str(folder / "poses.sdf")) if m is not None]
            if crystal is None or len(mols) < 2:
                continue
            names = set.intersection(*(set(m.GetPropNames()) for m in mols))
            props = {}
            for name in sorted(names):
                try:
                    props[name] = torch.tensor([float(m.GetProp(name)) for m in mols], dtype=torch.float64)
                except ValueError:
                    continue  # text properties (ligand name, failed checks)
            rmsd = torch.tensor([pose_rmsd(m, crystal) for m in mols], dtype=torch.float64)
            groups.append({"id": folder.name, "seed": seed, "properties": props, "rmsd": rmsd})
    if not groups:
        raise ValueError(f"{pred}: no <id>/poses.sdf with 2 or more poses found")
    return groups


def ranking_scores(group: dict, ranker) -> dict:
    """{ranking: [K] higher = better} for one group (``learned`` only when ``ranker`` is given)."""
    from sciffusion.domains.docking.physics import rank_confidence

    props = group["properties"]
    conf = props["model_confidence"] if "model_confidence" in props else props["confidence"]
    out = {"confidence": conf, "vina": -props["vina_score"],
           "combined": rank_confidence(conf, props["vina_score"], "combined"), "oracle": -group["rmsd"]}
    if ranker is not None:
        out["learned"] = ranker.logits(props)
    return out


def ranking_metrics(groups: list[dict], ranker) -> dict:
    """{ranking: {top1_rmsd_lt2, median_top1_rmsd, n}} over ``groups``."""
    import numpy as np

    top1: dict[str, list[float]] = {}
    for g in groups:
        for name, score in ranking_scores(g, ranker).items():
            top1.setdefault(name, []).append(float(g["rmsd"][int(score.argmax())]))
    return {name: {"top1_rmsd_lt2": float(np.mean(np.array(v) < 2)), "median_top1_rmsd": float(np.median(v)),
                   "n": len(v)} for name, v in top1.items()}


def run_ranker_train(cfg: RankerTrainConfig, log=print) -> dict:
    """Fit on ``cfg.train``, evaluate every ranking on train and val, write ``cfg.out``; returns the record."""
    import pandas as pd

    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.domains.docking.pose_ranker import FEATURES, fit_pose_ranker

    refuse_existing(cfg.out, cfg.overwrite)
    train = [g for pred, ref in cfg.train for g in read_pose_groups(Path(pred), Path(ref))]
    val = [g for pred, ref in cfg.val for g in read_pose_groups(Path(pred), Path(ref))]
    missing = sorted({f for g in train for f in FEATURES if f not in g["properties"]})
    if missing:
        raise ValueError(f"--train: poses lack {', '.join(missing)} (dock with refinement and a learned confidence)")
    log(f"fitting on {len(train)} ligands, {sum(len(g['rmsd']) for g in train)} poses")
    ranker = fit_pose_ranker([g["properties"] for g in train], [g["rmsd"] < 2 for g in train], l2=cfg.l2)
    metrics = {"train": ranking_metrics(train, ranker)}
    if val:
        metrics["val"] = ranking_metrics(val, ranker)
    record = {"ranker": ranker.to_dict(), "label": "heavy-atom RMSD < 2 Å to the crystal ligand",
              "train": [[str(p), str(r)] for p, r in cfg.train], "val": [[str(p), str(r)] for p, r in cfg.val],
              "train_ids": sorted({g["id"] for g in train}), "val_ids": sorted({g["id"] for g in val}),
              "l2": cfg.l2, "metrics": metrics}
    rows = [dict({"set": name, "id": g["id"], "seed": g["seed"], "pose": k, "rmsd": float(g["rmsd"][k])},
                 **{f: float(g["properties"][f][k]) for f in FEATURES if f in g["properties"]})
            for name, groups in (("train", train), ("val", val)) for g in groups for k in range(len(g["rmsd"]))]
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        (tmp / "ranker.json").write_text(json.dumps(record, indent=1) + "\n")
        (tmp / "table.txt").write_text(format_ranker_table(metrics) + "\n")
        pd.DataFrame(rows).to_csv(tmp / "poses.csv", index=False)
    return record


def format_ranker_table(metrics: dict) -> str:
    """Plain-text table: per set and ranking, ligands, top-1 < 2 Å, median top-1 RMSD."""
    lines = [["set", "ranking", "ligands", "top1<2Å", "med top1 RMSD"]]
    for split, by in metrics.items():
        for name in RANKINGS:
            if name in by:
                m = by[name]
                lines.append([split, name, str(m["n"]), f"{100 * m['top1_rmsd_lt2']:.1f}%", f"{m['median_top1_rmsd']:.2f}"])
    widths = [max(len(r[i]) for r in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in lines)


__all__ = ["RANKINGS", "RankerTrainConfig", "format_ranker_table", "parse_pair", "ranking_metrics",
           "read_pose_groups", "run_ranker_train"]
