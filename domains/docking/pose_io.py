"""The PRED_DIR layout that ``docking evaluate`` reads: ``<id>/rank<k>.sdf`` per complex
(:func:`write_ranked_poses`) and ``timing.csv`` with columns ``id,seconds`` (:func:`read_timing`,
:func:`timing_csv_text`). Every method that writes predictions uses these, so the layout is one."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Mapping, Sequence

from sciffusion.common.io.atomic import atomic_path
from sciffusion.common.io.text import read_text

TIMING_COLUMNS = ("id", "seconds")


def write_ranked_poses(folder: str | Path, mol, positions: Sequence, scores: Sequence[float] | None = None,
                       add_hs: bool = False, score_name: str = "score", overwrite: bool = False,
                       name_prefix: str = "", extra_files: Mapping[str, str] | None = None) -> Path:
    """Write one complex's poses, best first, as ``folder/rank1.sdf, rank2.sdf, ...`` (atomically).

    mol: heavy-atom RDKit Mol (the model's ligand). positions: sequence of [N, 3] arrays/tensors, Å,
    in the method's ranking order. scores: optional per-pose value stored as an SD tag ``score_name``.
    add_hs: add hydrogens with coordinates placed from the heavy atoms (for downstream tools).
    name_prefix: each pose's title line is ``<name_prefix>rank<k>``. extra_files: ``{name: text}``
    written into the same folder before it appears (e.g. a run's ``meta.json``).
    """
    from rdkit import Chem

    from sciffusion.domains.docking.conformers import add_hydrogens, with_positions

    if len(positions) == 0:
        raise ValueError(f"{folder}: no poses to write")
    if scores is not None and len(scores) != len(positions):
        raise ValueError(f"{folder}: {len(scores)} scores for {len(positions)} poses")
    with atomic_path(Path(folder), overwrite=overwrite) as tmp:
        tmp.mkdir()
        for rank, pos in enumerate(positions, start=1):
            pose = with_positions(mol, pos)
            if add_hs:
                pose = add_hydrogens(pose)
            pose.SetProp("_Name", f"{name_prefix}rank{rank}")
            if scores is not None:
                pose.SetProp(score_name, f"{float(scores[rank - 1]):.4f}")
            with Chem.SDWriter(str(tmp / f"rank{rank}.sdf")) as writer:
                writer.write(pose)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
    return Path(folder)


def timing_csv_text(seconds: Mapping[str, float]) -> str:
    """``timing.csv`` text: ``id,seconds`` rows in the given order."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TIMING_COLUMNS)
    for cid, value in seconds.items():
        writer.writerow([cid, value])
    return buf.getvalue()


def read_timing(path: Path) -> dict[str, float]:
    """``{id: seconds}`` from a ``timing.csv``; a missing column or a value that is not a finite
    number >= 0 is a ValueError naming the file and line."""
    return _timing_rows(path, csv.DictReader(io.StringIO(read_text(path, "a timing.csv"), newline="")))


def _timing_rows(path: Path, reader: csv.DictReader) -> dict[str, float]:
    if not set(TIMING_COLUMNS) <= set(reader.fieldnames or []):
        raise ValueError(f"{path}: needs columns {','.join(TIMING_COLUMNS)}, got {reader.fieldnames}")
    out = {}
    for row in reader:
        value = (row["seconds"] or "").strip()
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"{path}: line {reader.line_num}: seconds must be a number >= 0, got {value!r}")
        out[row["id"]] = seconds
    return out
