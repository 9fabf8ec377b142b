"""Read ligands with RDKit: one from SDF/MOL2/SMILES, many from multi-record SDF, ``.smi`` or CSV.

Sanitisation keeps the input's stereochemistry (3D files: from coordinates and parity flags; SMILES:
as written). A bad record raises :class:`LigandRecordError` (a ``ValueError``) whose one-line message
names the file, the record (and its line range in an SDF) and the problem; :func:`read_ligands`
skips such records and returns them in ``failures`` so that nothing is dropped silently. SDF files
are split into records by :mod:`sciffusion.domains.docking.sdf_records`, so a truncated or garbage
record is reported on its own and never swallows the good record after it.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sciffusion.common.io.text import read_text
from sciffusion.domains.docking.sdf_records import COUNTS_LINE, SdfBlock, block_bytes, read_sdf_lines, sdf_blocks

SINGLE_SUFFIXES = (".sdf", ".mol", ".sdf.gz", ".mol2")
BATCH_SUFFIXES = (".sdf", ".sdf.gz", ".mol2", ".smi", ".csv")


class LigandRecordError(ValueError):
    """A ligand record that cannot be used: ``<file>: record <k> (<name>), lines <a>-<b>: <problem>``
    (name and line range when known)."""

    def __init__(self, source: str, record: int, name: str, problem: str,
                 lines: tuple[int, int] | None = None) -> None:
        self.source, self.record, self.name, self.problem, self.lines = source, record, name, problem, lines
        super().__init__(f"{source}: {record_label(record, name, lines)}: {problem}")


def record_label(record: int, name: str = "", lines: tuple[int, int] | None = None) -> str:
    """``record 3 (name), lines 40-52`` (name and lines only when known)."""
    label = f"record {record}" + (f" ({name})" if name else "")
    return label + (f", lines {lines[0]}-{lines[1]}" if lines is not None else "")


@dataclass(frozen=True)
class LigandRecord:
    """One parsed ligand. ``record`` is 1-based in its file; ``mol`` is a sanitised RDKit Mol
    (with a 3D conformer when the input had one); ``has_3d`` tells whether 3D coordinates came in
    (False for 2D input and for a conformer with every atom at one point, e.g. all zeros).
    ``lines``: 1-based inclusive line range in an SDF file (None for other formats)."""

    source: str
    record: int
    name: str
    mol: object
    has_3d: bool
    lines: tuple[int, int] | None = None


@dataclass(frozen=True)
class LigandBatch:
    """Result of :func:`read_ligands`: the good records and one error per skipped record."""

    records: tuple[LigandRecord, ...]
    failures: tuple[LigandRecordError, ...] = field(default=())


def _sanitize(mol, source: str, record: int, name: str, lines: tuple[int, int] | None = None):
    from rdkit import Chem

    if mol is None:
        raise LigandRecordError(source, record, name, "RDKit could not parse the record", lines)
    if mol.GetNumAtoms() == 0:
        raise LigandRecordError(source, record, name, "no atoms", lines)
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several MolSanitizeException subclasses
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LigandRecordError(source, record, name, f"sanitisation failed: {problem}", lines) from None
    has_3d = mol.GetNumConformers() > 0 and mol.GetConformer().Is3D() and not _collapsed(mol.GetConformer())
    if has_3d:
        Chem.AssignStereochemistryFrom3D(mol, replaceExistingTags=False)
    else:
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    return mol, has_3d


def _collapsed(conformer) -> bool:
    """True when a conformer of several atoms puts them all at one point (e.g. all-zero coordinates,
    written by tools that had none): it holds no 3D information."""
    import numpy as np

    pos = conformer.GetPositions()
    return len(pos) > 1 and bool(np.all(np.ptp(pos, axis=0) < 1e-4))


def _record(mol, source: str, record: int, name: str = "", lines: tuple[int, int] | None = None) -> LigandRecord:
    if mol is not None and not name and mol.HasProp("_Name"):
        name = mol.GetProp("_Name").strip()
    mol, has_3d = _sanitize(mol, source, record, name, lines)
    return LigandRecord(source=source, record=record, name=name, mol=mol, has_3d=has_3d, lines=lines)


def _check_path(path: Path, suffixes: tuple[str, ...]) -> str:
    if not path.exists():
        raise FileNotFoundError(f"{path}: ligand file not found")
    lower = path.name.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    raise ValueError(f"{path}: unsupported ligand format (expected one of {', '.join(suffixes)})")


def _sdf_records(path: Path) -> Iterator[LigandRecord | LigandRecordError]:
    """One item per SDF record (:func:`sdf_blocks`): the parsed record or why it failed."""
    for block in sdf_blocks(read_sdf_lines(path)):
        yield _try(lambda: _sdf_record(block, str(path)))


def _sdf_record(block: SdfBlock, source: str) -> LigandRecord:
    from rdkit import Chem

    lines = (block.first_line, block.last_line)
    text_lines = block.text.splitlines()
    has_header = len(text_lines) > 3 and COUNTS_LINE.match(text_lines[3])
    name = text_lines[0].strip() if has_header else ""
    if block.problem:
        raise LigandRecordError(source, block.record, name, block.problem, lines)
    supplier = Chem.ForwardSDMolSupplier(io.BytesIO(block_bytes(block)), sanitize=False, removeHs=False)
    return _record(next(supplier, None), source, block.record, lines=lines)


def _text(path: Path) -> str:
    return read_text(path, f"a {path.suffix} file")


def _mol2_blocks(path: Path) -> list[str]:
    text = _text(path)
    parts = text.split("@<TRIPOS>MOLECULE")
    return ["@<TRIPOS>MOLECULE" + p for p in parts[1:]]


def _mol2_mol(block: str):
    from rdkit import Chem

    return Chem.MolFromMol2Block(block, sanitize=False, removeHs=False)


def _iter_records(path: Path, smiles_column: str) -> Iterator[LigandRecord | LigandRecordError]:
    suffix = _check_path(path, BATCH_SUFFIXES)
    source = str(path)
    if suffix in (".sdf", ".sdf.gz"):
        yield from _sdf_records(path)
    elif suffix == ".mol2":
        for k, block in enumerate(_mol2_blocks(path), start=1):
            yield _try(lambda: _record(_mol2_mol(block), source, k))
    elif suffix == ".smi":
        for k, line in enumerate(_smi_lines(path), start=1):
            smiles, name = line
            yield _try(lambda: smiles_record(smiles, name, source, k))
    else:
        for k, (smiles, name) in enumerate(_csv_rows(path, smiles_column), start=1):
            yield _try(lambda: smiles_record(smiles, name, source, k))


def _try(make) -> LigandRecord | LigandRecordError:
    try:
        return make()
    except LigandRecordError as exc:
        return exc


def _smi_lines(path: Path) -> Iterator[tuple[str, str]]:
    for line in _text(path).splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        yield parts[0], (" ".join(parts[1:]) if len(parts) > 1 else "")


def _csv_rows(path: Path, smiles_column: str) -> Iterator[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(_text(path), newline=""))
    try:
        columns = {c.lower(): c for c in (reader.fieldnames or [])}
        if smiles_column.lower() not in columns:
            raise ValueError(f"{path}: no {smiles_column!r} column (columns: {', '.join(columns.values())})")
        smiles_key = columns[smiles_column.lower()]
        name_key = next((columns[c] for c in ("id", "name") if c in columns), None)
        for row in reader:
            yield (row[smiles_key] or "").strip(), (row[name_key] or "").strip() if name_key else ""
    except csv.Error as exc:  # e.g. a field over csv's size limit
        raise ValueError(f"{path}: not valid CSV after line {reader.line_num} ({exc})") from None


def smiles_record(smiles: str, name: str = "", source: str = "<smiles>", record: int = 1) -> LigandRecord:
    """Parse one SMILES (stereo as written). No conformer: call
    :func:`sciffusion.domains.docking.conformers.embed_conformer` for 3D coordinates."""
    from rdkit import Chem

    if not smiles:
        raise LigandRecordError(source, record, name, "empty SMILES")
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        raise LigandRecordError(source, record, name, f"RDKit could not parse SMILES {smiles!r}")
    return _record(mol, source, record, name)


def read_ligand(path: str | Path) -> LigandRecord:
    """Read exactly one ligand from ``.sdf``/``.mol``/``.sdf.gz``/``.mol2``; more than one record
    or a bad record is a ``ValueError`` naming the file (RDKit's own log lines about it are held back:
    the error says it once)."""
    from rdkit import rdBase

    with rdBase.BlockLogs():
        return _read_one(Path(path))


def _read_one(path: Path) -> LigandRecord:
    suffix = _check_path(path, SINGLE_SUFFIXES)
    if suffix == ".mol2":
        blocks = _mol2_blocks(path)
        if len(blocks) != 1:
            raise ValueError(f"{path}: expected one MOL2 molecule, found {len(blocks)}")
        return _record(_mol2_mol(blocks[0]), str(path), 1)
    blocks = list(sdf_blocks(read_sdf_lines(path)))
    if len(blocks) != 1:
        raise ValueError(f"{path}: expected one molecule, found {len(blocks)} records")
    return _sdf_record(blocks[0], str(path))


def read_ligands(path: str | Path, smiles_column: str = "smiles") -> LigandBatch:
    """Read every record of a multi-record SDF/MOL2, a ``.smi`` (``SMILES [name]`` per line) or a
    CSV with a SMILES column (optional ``id``/``name`` column). Bad records are skipped and listed in
    ``failures``; an unreadable file is an error. RDKit's own log lines are held back (each failure
    says its problem once)."""
    from rdkit import rdBase

    records, failures = [], []
    with rdBase.BlockLogs():
        for item in _iter_records(Path(path), smiles_column):
            (failures if isinstance(item, LigandRecordError) else records).append(item)
    if not records and not failures:
        raise ValueError(f"{path}: no ligand records found")
    return LigandBatch(records=tuple(records), failures=tuple(failures))
