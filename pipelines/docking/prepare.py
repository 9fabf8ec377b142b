"""``docking prepare``: complexes in INDEX.csv -> ``CACHE/<id>.pt`` tensor dicts (torch-only to load).

Each ``<id>.pt`` is a plain ``torch.save`` of the dict described in
:mod:`sciffusion.domains.docking.graphs` plus ``id`` and ``meta`` (input sha256s, config, versions);
:func:`load_prepared` reads it with ``torch.load(weights_only=True)``. Resumable: an entry whose
``.pt`` exists with the same input checksums and config is kept. ``failures.csv`` lists every
complex that could not be prepared, its index line and why (a bad pocket in one index row fails
that row only); ``manifest.json`` records versions, config, the checksum of every input and output
and each entry's input warnings (e.g. a protein file that may be truncated).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from sciffusion.common.io.atomic import atomic_path, write_text_atomic
from sciffusion.common.io.provenance import file_sha256, package_versions
from sciffusion.domains.docking.index import IndexEntry, read_index

FORMAT_VERSION = 3  # 2: meta["warnings"], meta["pocket"]; 3: strict rotatable bonds, rot_dihedrals, conformers
VERSIONED_PACKAGES = ("sciffusion", "torch", "rdkit", "gemmi", "numpy")


@dataclass(frozen=True)
class PrepareConfig:
    """index: INDEX.csv. out: cache folder. include_atoms: also store receptor atoms.
    pocket_margin: Å around a reference ligand / residue list. limit: first N rows only.
    conformers: seeded ETKDG conformers per ligand with their change onto the crystal pose
    (0: none); conformer_seed: seed of the first (the others count up); conformer_refine_steps:
    L-BFGS steps refining the torsion changes (see conformers.conformer_targets)."""

    index: Path
    out: Path
    include_atoms: bool = False
    pocket_margin: float = 4.0
    limit: int | None = None
    conformers: int = 4
    conformer_seed: int = 0
    conformer_refine_steps: int = 50

    def __post_init__(self) -> None:
        if not (math.isfinite(self.pocket_margin) and self.pocket_margin >= 0):
            raise ValueError(f"--pocket-margin: must be a finite number >= 0 Å, got {self.pocket_margin}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit: must be >= 1, got {self.limit}")
        if self.conformers < 0:
            raise ValueError(f"--conformers: must be >= 0, got {self.conformers}")
        if not 0 <= self.conformer_seed < 2**31 - self.conformers:
            raise ValueError(f"--conformer-seed: must be in [0, 2**31 - conformers), got {self.conformer_seed}")
        if self.conformer_refine_steps < 0:
            raise ValueError(f"conformer_refine_steps: must be >= 0, got {self.conformer_refine_steps}")
        if self.out.exists() and not self.out.is_dir():
            raise NotADirectoryError(f"--out: {self.out} is a file, not a cache folder")

    def record(self) -> dict:
        return {"include_atoms": self.include_atoms, "pocket_margin": self.pocket_margin,
                "conformers": self.conformers, "conformer_seed": self.conformer_seed,
                "conformer_refine_steps": self.conformer_refine_steps,
                "format_version": FORMAT_VERSION}


def load_prepared(path: str | Path) -> dict:
    """Load one ``<id>.pt`` with torch alone (no RDKit/gemmi); ``build_graph`` turns it into HeteroData."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def _inputs(entry: IndexEntry) -> dict[str, str]:
    paths = {"protein": entry.protein, "ligand": entry.ligand}
    if entry.pocket_ligand is not None:
        paths["pocket_ligand"] = entry.pocket_ligand
    for role, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: {role} file not found")
    return {role: file_sha256(path) for role, path in paths.items()}


def prepare_one(entry: IndexEntry, cfg: PrepareConfig) -> dict:
    """Tensor dict of one complex (raises ValueError/FileNotFoundError with the reason)."""
    from sciffusion.domains.docking.graphs import complex_tensors
    from sciffusion.domains.docking.ligand_io import read_ligand
    from sciffusion.domains.docking.pockets import resolve_pocket
    from sciffusion.domains.docking.protein import read_protein

    inputs = _inputs(entry)
    protein = read_protein(entry.protein)
    ligand = read_ligand(entry.ligand)
    if not ligand.has_3d:
        raise ValueError(f"{entry.ligand}: ligand has no 3D coordinates")
    box = resolve_pocket(entry.pocket(cfg.pocket_margin), protein)
    tensors = complex_tensors(protein, ligand.mol, box, include_atoms=cfg.include_atoms)
    if cfg.conformers:
        from sciffusion.domains.docking.conformers import conformer_targets, strip_hydrogens

        tensors["conformers"] = conformer_targets(strip_hydrogens(ligand.mol), cfg.conformers, cfg.conformer_seed,
                                                  refine_steps=cfg.conformer_refine_steps)
    from rdkit import Chem

    tensors["id"] = entry.id
    tensors["meta"] = {"inputs": inputs, "config": cfg.record(), "versions": versions(),
                       "smiles": Chem.MolToSmiles(ligand.mol), "protein_notes": list(protein.notes),
                       "warnings": list(protein.warnings), "pocket": _pocket_record(entry)}
    return tensors


def _pocket_record(entry: IndexEntry) -> dict:
    """The index row's pocket columns (part of the cache key: editing them rebuilds the entry)."""
    box = None if entry.pocket_box is None else [list(entry.pocket_box.center), list(entry.pocket_box.size)]
    return {"box": box, "residues": list(entry.pocket_residues)}


def versions() -> dict[str, str]:
    """Versions of the packages that shape a prepared entry."""
    return package_versions(VERSIONED_PACKAGES)


def _is_cached(path: Path, entry: IndexEntry, cfg: PrepareConfig) -> bool:
    if not path.exists():
        return False
    try:
        meta = load_prepared(path)["meta"]
        return (meta["config"] == cfg.record() and meta["inputs"] == _inputs(entry)
                and meta["pocket"] == _pocket_record(entry))
    except (OSError, RuntimeError, KeyError, FileNotFoundError):
        return False


def run_prepare(cfg: PrepareConfig) -> dict:
    """Prepare every index entry; returns counts (``warned``: entries with input warnings).
    Failures never stop the run; they are counted and listed in ``failures.csv``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    entries = read_index(cfg.index)[: cfg.limit]
    cfg.out.mkdir(parents=True, exist_ok=True)
    failures, manifest, prepared, cached, warned = [], {}, 0, 0, 0
    columns = (TextColumn("prepare {task.fields[current]}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("prepare", total=len(entries), current="")
        for entry in entries:
            progress.update(task, current=entry.id)
            target = cfg.out / f"{entry.id}.pt"
            try:
                if entry.pocket_error:  # a bad pocket in this index row: never a cached or new entry
                    raise ValueError(entry.pocket_error)
                if _is_cached(target, entry, cfg):
                    cached += 1
                else:
                    tensors = prepare_one(entry, cfg)
                    with atomic_path(target, overwrite=True) as tmp:
                        torch.save(tensors, tmp)
                    prepared += 1
                meta = load_prepared(target)["meta"]
                manifest[entry.id] = {"file": target.name, "sha256": file_sha256(target), "inputs": meta["inputs"],
                                      "warnings": meta["warnings"]}
                warned += bool(meta["warnings"])
            except Exception as exc:  # every failure is recorded with its reason, none stops the run
                failures.append((entry.id, entry.line, _reason(exc)))
                if target.exists():
                    target.unlink()  # stale entry from older inputs
            progress.advance(task)
    _write_failures(cfg.out / "failures.csv", failures)
    write_text_atomic(cfg.out / "manifest.json", json.dumps(
        {"index": str(cfg.index), "config": cfg.record(), "versions": versions(), "entries": manifest}, indent=1))
    return {"complexes": len(entries), "prepared": prepared, "cached": cached, "failed": len(failures),
            "warned": warned}


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _write_failures(path: Path, failures: list[tuple[str, int, str]]) -> None:
    """``failures.csv``: id, index line, reason."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "line", "reason"])
    writer.writerows(failures)
    write_text_atomic(path, buf.getvalue())
