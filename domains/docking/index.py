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
import io
import random
from dataclasses import dataclass
from pathlib import Path

from sciffusion.common.io.text import read_text
from sciffusion.domains.docking.pockets import (
    BlindPocket, Box, BoxPocket, PocketSpec, ResiduePocket, ligand_pocket_from_mol,
)

BOX_COLUMNS = ("pocket_center_x", "pocket_center_y", "pocket_center_z", "pocket_size_x", "pocket_size_y", "pocket_size_z")
DATA_FOLDERS = ("posebusters_v2_public", "train_pdb_ccd", "train_pdbbind2020_subset")
PROTEIN_SUFFIXES = (".pdb", ".pdb.gz", ".ent", ".ent.gz", ".cif", ".cif.gz", ".mmcif", ".mmcif.gz")


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

            record = read_ligand(self.pocket_ligand)
            if not record.has_3d:
                raise ValueError(f"{self.pocket_ligand}: pocket ligand has no 3D coordinates (a 2D or all-zero "
                                 "record cannot place the pocket)")
            return ligand_pocket_from_mol(record.mol, margin=margin)
        return BlindPocket()


def read_index(path: str | Path) -> list[IndexEntry]:
    """Parse INDEX.csv; bad rows are a ValueError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: index file not found")
    base = path.parent
    text = read_text(path, "a CSV file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
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
    if not cid or "/" in cid or "\\" in cid or cid in (".", ".."):
        raise ValueError(f"{where}: bad id {cid!r} (an id names a file and a folder: no '/' or '\\', not '.' or '..')")
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


INDEX_COLUMNS = ("id", "protein", "ligand", "split", "pocket_ligand", *BOX_COLUMNS, "pocket_residues")


def build_index(data_root: str | Path, splits: tuple[str, ...] | None = None, pocket: str = "ligand",
                sample: int | None = None, seed: int = 0, out: str | Path = "index.csv") -> str:
    """INDEX.csv text for a folder of complexes, to be written at ``out``.

    data_root: either the shared docking data folder (``splits/<name>.txt`` plus
    :data:`DATA_FOLDERS`; ``splits`` default train, val, test_public) or any folder of
    ``<id>_protein.<pdb|ent|cif|mmcif>[.gz]`` + ``<id>_ligand.sdf`` pairs, flat or one sub-folder per
    id (split column empty; ``splits`` must be None).
    pocket: ``"ligand"`` (pocket_ligand = the crystal ligand, i.e. pocket given) or ``"blind"``.
    sample: keep this many ids per split, drawn with ``random.Random(seed)`` (None = all), in order.
    Paths are written relative to ``out``'s folder when ``data_root`` is relative, else absolute,
    so that :func:`read_index` (which resolves them against the index file) finds the files.
    """
    root = Path(data_root)
    if pocket not in ("ligand", "blind"):
        raise ValueError(f"pocket: must be 'ligand' or 'blind', got {pocket!r}")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data folder not found")
    if (root / "splits").is_dir():
        rows = _shared_layout_rows(root, splits or ("train", "val", "test_public"), sample, seed)
    else:
        if splits is not None:
            raise ValueError(f"--splits: {root} has no splits/ folder (a plain folder of complexes has no splits)")
        rows = _sample(_folder_pairs(root), sample, seed, str(root))
    place = _path_writer(Path(out), absolute=root.is_absolute())
    lines = ["id,protein,ligand,split,pocket_ligand"]
    for cid, protein, ligand, split in rows:
        lines.append(_csv_line([cid, place(protein), place(ligand), split, place(ligand) if pocket == "ligand" else ""]))
    return "\n".join(lines) + "\n"


def index_from_csv(source: str | Path, pocket: str = "ligand", out: str | Path = "index.csv") -> str:
    """INDEX.csv text from a CSV of paths (columns ``id,protein,ligand`` and optionally ``split`` and
    the pocket columns; paths absolute or relative to the CSV's folder), with every path rewritten
    to resolve from ``out`` (relative to its folder when the CSV path is relative, else absolute).
    Every listed file must exist. pocket ``"ligand"``: a row without pocket columns gets its ligand
    as ``pocket_ligand``."""
    source = Path(source)
    if pocket not in ("ligand", "blind"):
        raise ValueError(f"pocket: must be 'ligand' or 'blind', got {pocket!r}")
    place = _path_writer(Path(out), absolute=source.is_absolute())
    lines = [",".join(INDEX_COLUMNS)]
    for e in read_index(source):
        for role, path in (("protein", e.protein), ("ligand", e.ligand), ("pocket_ligand", e.pocket_ligand)):
            if path is not None and not path.is_file():
                raise FileNotFoundError(f"{source}: line {e.line}: id {e.id}: {role} file not found: {path}")
        if e.pocket_error:
            raise ValueError(e.pocket_error)
        own = e.pocket_box is not None or e.pocket_residues or e.pocket_ligand is not None
        ref = e.pocket_ligand if e.pocket_ligand is not None else (e.ligand if pocket == "ligand" and not own else None)
        box = [] if e.pocket_box is None else [*e.pocket_box.center, *e.pocket_box.size]
        lines.append(_csv_line([e.id, place(e.protein), place(e.ligand), e.split, "" if ref is None else place(ref),
                                *([repr(float(v)) for v in box] or [""] * 6), " ".join(e.pocket_residues)]))
    return "\n".join(lines) + "\n"


def _path_writer(out: Path, absolute: bool):
    """Path → text for the index at ``out``: absolute, or relative to out's folder."""
    import os

    base = Path(os.path.abspath(out)).parent

    def place(path: Path) -> str:
        full = os.path.abspath(path)
        return full if absolute else os.path.relpath(full, base)

    return place


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


def _sample(rows: list, sample: int | None, seed: int, what: str) -> list:
    if sample is None:
        return rows
    if not 0 < sample <= len(rows):
        raise ValueError(f"sample: must be in 1..{len(rows)} for {what}, got {sample}")
    keep = set(random.Random(seed).sample([r[0] for r in rows], sample))
    return [r for r in rows if r[0] in keep]


def _shared_layout_rows(root: Path, splits: tuple[str, ...], sample: int | None, seed: int) -> list:
    where = {}
    for folder in DATA_FOLDERS:
        for lig in sorted((root / folder).glob("*_ligand.sdf")):
            where[lig.name[: -len("_ligand.sdf")]] = root / folder
    rows = []
    for split in splits:
        split_file = root / "splits" / f"{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(f"{split_file}: split file not found")
        ids = [s.strip() for s in split_file.read_text().split() if s.strip()]
        missing = [cid for cid in ids if cid not in where]
        if missing:
            raise ValueError(f"{split_file}: id {missing[0]} not found in any of {', '.join(DATA_FOLDERS)}")
        chosen = _sample([(cid,) for cid in ids], sample, seed, f"split {split}")
        rows += [(cid, where[cid] / f"{cid}_protein.pdb.gz", where[cid] / f"{cid}_ligand.sdf", split)
                 for (cid,) in chosen]
    return rows


def _folder_pairs(root: Path) -> list[tuple[str, Path, Path, str]]:
    """(id, protein, ligand, "") for every ``<id>_ligand.sdf`` in root or root/<id>/, sorted by id."""
    ligands = sorted(root.glob("*_ligand.sdf")) + sorted(root.glob("*/*_ligand.sdf"))
    rows, seen = [], {}
    for lig in ligands:
        cid = lig.name[: -len("_ligand.sdf")]
        if lig.parent != root and lig.parent.name != cid:
            raise ValueError(f"{lig}: in sub-folder {lig.parent.name}/, expected {cid}/ (one sub-folder per id)")
        if cid in seen:
            raise ValueError(f"{root}: id {cid} found twice ({seen[cid]} and {lig})")
        seen[cid] = lig
        proteins = [lig.parent / f"{cid}_protein{suffix}" for suffix in PROTEIN_SUFFIXES]
        proteins = [p for p in proteins if p.is_file()]
        if len(proteins) != 1:
            problem = "no protein file" if not proteins else "several protein files"
            raise ValueError(f"{lig}: {problem} {cid}_protein.<{'|'.join(s.lstrip('.') for s in PROTEIN_SUFFIXES)}> "
                             f"beside it" + (f" ({', '.join(p.name for p in proteins)})" if proteins else ""))
        rows.append((cid, proteins[0], lig, ""))
    if not rows:
        raise ValueError(f"{root}: no <id>_ligand.sdf files (flat or in <id>/ sub-folders), and no splits/ folder")
    return sorted(rows)
