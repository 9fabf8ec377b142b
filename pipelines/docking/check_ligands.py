"""``docking check-ligands``: one line per ligand record (ok or its problem) and a summary line.

Reads with :func:`sciffusion.domains.docking.ligand_io.read_ligands` and runs the checks ``dock`` makes
before embedding (:func:`~sciffusion.domains.docking.ligand_inputs.docking_molecule`: heavy atoms, the
size limit, mixtures; a salt is ok and its dropped counter-ions are named), so the report lists what
``prepare``, ``dock`` and the batch readers would read or reject; nothing is written.
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


def _verdict(mol, max_heavy_atoms: int) -> tuple[bool, str]:
    """(dockable, ``ok`` / ``ok, a salt: docked without <ions>`` / the problem) for one read record."""
    from rdkit import Chem

    from sciffusion.domains.docking.ligand_inputs import docking_molecule

    try:
        docked = docking_molecule(mol, "", max_heavy_atoms)
    except ValueError as exc:
        return False, str(exc).removeprefix(": ")
    fragments = Chem.GetMolFrags(Chem.RemoveHs(mol, sanitize=False), asMols=True, sanitizeFrags=False)
    if len(fragments) == 1:
        return True, "ok"
    kept = Chem.MolToSmiles(docked)
    dropped = [Chem.MolToSmiles(f) for f in fragments if Chem.MolToSmiles(f) != kept]
    return True, f"ok, a salt: docked without {'.'.join(dropped)}"


def check_ligands(path: Path, smiles_column: str = "smiles", max_heavy_atoms: int = 150) -> LigandCheck:
    """Report every record of an SDF/MOL2/SMILES/CSV ligand file (unreadable file: ValueError)."""
    from sciffusion.domains.docking.ligand_io import read_ligands, record_label

    batch = read_ligands(path, smiles_column=smiles_column)
    items, ok = [], 0
    for r in batch.records:
        good, verdict = _verdict(r.mol, max_heavy_atoms)
        ok += good
        items.append((r.record, f"{path}: {record_label(r.record, r.name, r.lines)}: {verdict}"))
    items += [(f.record, f"{f}") for f in batch.failures]
    lines = [text for _, text in sorted(items)]
    failed = len(items) - ok
    lines.append(f"{path}: {ok + failed} record(s): {ok} ok, {failed} failed")
    return LigandCheck(lines=tuple(lines), ok=ok, failed=failed)
