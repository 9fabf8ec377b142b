"""INDEX.csv: the list of complexes that ``prepare``, ``baseline vina`` and benchmarks work on.

Columns (header required; paths absolute or relative to the index file's folder):

- ``id`` (required, unique), ``protein`` (PDB/mmCIF, ``.gz`` ok), ``ligand`` (SDF/MOL2, crystal or input pose)
- optional ``split`` (free text, e.g. train/val/test_public)
- optional pocket, first match wins: ``pocket_center_x,pocket_center_y,pocket_center_z,pocket_size_x,
  pocket_size_y,pocket_size_z`` (Å) -> box; ``pocket_residues`` (space-separated ``CHAIN:NUMBER``) ->
  residue pocket; ``pocket_ligand`` (SDF path) -> reference-ligand box plus margin; none -> blind.

A file-level problem (not UTF-8 text, missing columns, a row without id or paths, a duplicate id)
is an error naming the file and line. A bad pocket in one row (a box with a missing, non-finite or
non-positive value, a residue that is not ``CHAIN:NUMBER``) belongs to that row only: the entry is
returned with ``pocket_error`` set, and :meth:`IndexEntry.pocket` raises it, so that a flow records
it against the row's id and line and goes on with the others.
"""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from sciffusion.domains.docking.pockets import (
    BlindPocket, Box, BoxPocket, PocketSpec, ResiduePocket, ligand_pocket_from_mol,
)

BOX_COLUMNS = ("pocket_center_x", "pocket_center_y", "pocket_center_z", "pocket_size_x", "pocket_size_y", "pocket_size_z")
DATA_FOLDERS = ("posebusters_v2_public", "train_pdb_ccd", "train_pdbbind2020_subset")


@dataclass(frozen=True)
class IndexEntry:
    """One INDEX.csv row with resolved paths. ``line``: its line in the file (0: not from a file).
    ``pocket_error``: the row's pocket problem (``<file>: line <n>: id <id>: <problem>``), if any."""

    id: str
    protein: Path
    ligand: Path
    split: str = ""
    pocket_ligand: Path | None = None
    pocket_residues: tuple[str, ...] = ()
    pocket_box: Box | None = None
    line: int = 0
    pocket_error: str = ""

    def pocket(self, margin: float = 4.0) -> PocketSpec:
        """The pocket definition of this row (box > residues > reference ligand > blind);
        ValueError with ``pocket_error`` when the row's pocket is bad."""
        if self.pocket_error:
            raise ValueError(self.pocket_error)
        if self.pocket_box is not None:
            return BoxPocket(self.pocket_box)
        if self.pocket_residues:
            return ResiduePocket(self.pocket_residues, margin=margin)
        if self.pocket_ligand is not None:
            from sciffusion.domains.docking.ligand_io import read_ligand

            return ligand_pocket_from_mol(read_ligand(self.pocket_ligand).mol, margin=margin)
        return BlindPocket()


def read_index(path: str | Path) -> list[IndexEntry]:
    """Parse INDEX.csv; bad rows are a ValueError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: index file not found")
    base = path.parent
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        try:
            missing = {"id", "protein", "ligand"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            entries, seen = [], set()
            for row in reader:
                line = reader.line_num
                entries.append(_entry(row, base, path, line))
                if entries[-1].id in seen:
                    raise ValueError(f"{path}: line {line}: duplicate id {entries[-1].id!r}")
                seen.add(entries[-1].id)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text (undecodable byte 0x{exc.object[exc.start]:02x}); "
                             "is this a CSV file?") from None
        except csv.Error as exc:
            raise ValueError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not entries:
        raise ValueError(f"{path}: no complexes listed")
    return entries


def _entry(row: dict, base: Path, path: Path, line: int) -> IndexEntry:
    where = f"{path}: line {line}"

    def path_of(key: str) -> Path | None:
        value = (row.get(key) or "").strip()
        return None if not value else (Path(value) if Path(value).is_absolute() else base / value)

    cid = (row.get("id") or "").strip()
    if not cid or "/" in cid:
        raise ValueError(f"{where}: bad id {cid!r}")
    protein, ligand = path_of("protein"), path_of("ligand")
    if protein is None or ligand is None:
        raise ValueError(f"{where}: id {cid}: protein and ligand paths are required")
    residues = tuple((row.get("pocket_residues") or "").split())
    box, problem = None, ""
    try:
        box = _box([(row.get(c) or "").strip() for c in BOX_COLUMNS])
        if residues:
            ResiduePocket(residues)  # checks the CHAIN:NUMBER syntax
    except ValueError as exc:
        problem = f"{where}: id {cid}: {exc}"
    return IndexEntry(id=cid, protein=protein, ligand=ligand, split=(row.get("split") or "").strip(),
                      pocket_ligand=path_of("pocket_ligand"), pocket_residues=residues, pocket_box=box,
                      line=line, pocket_error=problem)


def _box(values: list[str]) -> Box | None:
    """The box of the six pocket columns (None when all are empty)."""
    if not any(values):
        return None
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise ValueError(f"pocket box needs all six numbers, got {values}") from None
    return Box(center=tuple(numbers[:3]), size=tuple(numbers[3:]))


def build_index(data_root: str | Path, splits: tuple[str, ...] = ("train", "val", "test_public"),
                pocket: str = "ligand", sample: int | None = None, seed: int = 0) -> str:
    """INDEX.csv text for the shared docking data folder layout.

    data_root: folder with ``splits/<name>.txt`` and the complex folders (:data:`DATA_FOLDERS`).
    pocket: ``"ligand"`` (pocket_ligand = the crystal ligand, i.e. pocket given) or ``"blind"``.
    sample: keep this many ids per split, drawn with ``random.Random(seed)`` (None = all), in file order.
    """
    root = Path(data_root)
    if pocket not in ("ligand", "blind"):
        raise ValueError(f"pocket: must be 'ligand' or 'blind', got {pocket!r}")
    where = {}
    for folder in DATA_FOLDERS:
        for lig in sorted((root / folder).glob("*_ligand.sdf")):
            where[lig.name[: -len("_ligand.sdf")]] = root / folder
    lines = ["id,protein,ligand,split,pocket_ligand"]
    for split in splits:
        split_file = root / "splits" / f"{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(f"{split_file}: split file not found")
        ids = [s.strip() for s in split_file.read_text().split() if s.strip()]
        if sample is not None:
            if not 0 < sample <= len(ids):
                raise ValueError(f"sample: must be in 1..{len(ids)} for split {split}, got {sample}")
            keep = set(random.Random(seed).sample(ids, sample))
            ids = [i for i in ids if i in keep]
        for cid in ids:
            if cid not in where:
                raise ValueError(f"{split_file}: id {cid} not found in any of {', '.join(DATA_FOLDERS)}")
            folder = where[cid]
            lig = folder / f"{cid}_ligand.sdf"
            lines.append(f"{cid},{folder / f'{cid}_protein.pdb.gz'},{lig},{split},{lig if pocket == 'ligand' else ''}")
    return "\n".join(lines) + "\n"
