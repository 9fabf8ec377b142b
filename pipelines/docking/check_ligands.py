"""``docking check-ligands``: one line per ligand record (ok or its problem) and a summary line.

Reads with :func:`sciffusion.domains.docking.ligand_io.read_ligands`, so the report lists exactly
what ``prepare`` and the batch readers would read or reject; nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LigandCheck:
    """lines: one per record in file order, then the summary line. ok/failed: record counts."""

    lines: tuple[str, ...]
    ok: int
    failed: int


def check_ligands(path: Path, smiles_column: str = "smiles") -> LigandCheck:
    """Report every record of an SDF/MOL2/SMILES/CSV ligand file (unreadable file: ValueError)."""
    from sciffusion.domains.docking.ligand_io import read_ligands, record_label

    batch = read_ligands(path, smiles_column=smiles_column)
    items = [(r.record, f"{path}: {record_label(r.record, r.name, r.lines)}: ok") for r in batch.records]
    items += [(f.record, f"{f}") for f in batch.failures]
    lines = [text for _, text in sorted(items)]
    ok, failed = len(batch.records), len(batch.failures)
    lines.append(f"{path}: {ok + failed} record(s): {ok} ok, {failed} failed")
    return LigandCheck(lines=tuple(lines), ok=ok, failed=failed)
