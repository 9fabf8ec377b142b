"""Read a receptor from PDB or mmCIF (plain or gzipped) with gemmi into plain numpy arrays.

Waters, alternate locations, hydrogens and hetero groups (other ligands, cofactors, ions) are
handled by explicit options in :class:`ProteinReadConfig`; nothing is dropped silently.

Truncation (PDB format): a file whose last coordinate line is cut mid-record (shorter than the
coordinates, or no final newline and shorter than the coordinate line before it) is an error, as
is a cut gzip stream. A file that has no END record and stops inside the coordinate section may
have been cut at a line boundary, which cannot be told from a complete file without END: it is
read, with a warning in :attr:`Protein.warnings`. (gemmi itself rejects an mmCIF cut mid-loop;
an mmCIF cut at a line boundary is not detected.)
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

AMINO_ACIDS: tuple[str, ...] = (
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
)
# Common modified residues mapped to their parent for the residue-type feature.
MODIFIED_PARENT = {"MSE": "MET", "SEP": "SER", "TPO": "THR", "PTR": "TYR", "HID": "HIS",
                   "HIE": "HIS", "HIP": "HIS", "CSO": "CYS", "KCX": "LYS", "MLY": "LYS"}
PROTEIN_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".ent.gz", ".cif.gz", ".mmcif.gz")
ALTLOC_MODES = ("highest_occupancy", "first")
HETERO_MODES = ("keep", "drop", "metals_only")
PDB_SUFFIXES = (".pdb", ".ent", ".pdb.gz", ".ent.gz")
COORDINATE_RECORDS = ("ATOM", "HETATM", "ANISOU", "TER")
COORDINATES_END = 54  # PDB columns 31-54 hold x, y, z
METALS = frozenset({"LI", "NA", "K", "MG", "CA", "MN", "FE", "CO", "NI", "CU", "ZN", "CD", "HG", "SR",
                    "BA", "CS", "RB", "AL", "GA", "PT", "PD", "AG", "AU", "MO", "W", "V", "CR"})


@dataclass(frozen=True)
class ProteinReadConfig:
    """How to read a receptor file.

    keep_waters: keep HOH/DOD/WAT residues (default False: waters removed).
    altloc: ``"highest_occupancy"`` (default; ties -> first altloc) or ``"first"`` (first altloc letter).
    hetero: ``"keep"`` (default: cofactors, ions and other het groups stay, as docking needs them),
        ``"drop"`` (polymer residues only) or ``"metals_only"`` (keep metal ions, drop other het groups).
    exclude_residues: het residue names removed whatever ``hetero`` says (e.g. copies of the ligand).
    keep_hydrogens: keep H/D atoms (default False).
    """

    keep_waters: bool = False
    altloc: str = "highest_occupancy"
    hetero: str = "keep"
    exclude_residues: tuple[str, ...] = ()
    keep_hydrogens: bool = False

    def __post_init__(self) -> None:
        if self.altloc not in ALTLOC_MODES:
            raise ValueError(f"altloc: must be one of {ALTLOC_MODES}, got {self.altloc!r}")
        if self.hetero not in HETERO_MODES:
            raise ValueError(f"hetero: must be one of {HETERO_MODES}, got {self.hetero!r}")


@dataclass(frozen=True)
class Protein:
    """A receptor as arrays. N atoms, R residues (every residue kept, amino acid or not).

    atom_pos: [N, 3] float32, Å. atom_element: [N] upper-case element symbols. atom_name: [N].
    atom_residue: [N] int64 index into the residue arrays.
    residue_name: [R] residue names; residue_chain: [R]; residue_number: [R] str, seqnum plus insertion
    code (``"45"``, ``"45A"``). residue_is_amino_acid: [R] bool (standard or modified amino acid with
    N, CA and C atoms).
    """

    path: str
    atom_pos: np.ndarray
    atom_element: np.ndarray
    atom_name: np.ndarray
    atom_residue: np.ndarray
    residue_name: np.ndarray
    residue_chain: np.ndarray
    residue_number: np.ndarray
    residue_is_amino_acid: np.ndarray
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    @property
    def num_atoms(self) -> int:
        return int(self.atom_pos.shape[0])

    @property
    def num_residues(self) -> int:
        return int(self.residue_name.shape[0])

    def residue_atom_pos(self, residue: int, name: str) -> np.ndarray | None:
        """Position [3] (Å) of atom ``name`` in residue index ``residue``, or None."""
        hits = np.nonzero((self.atom_residue == residue) & (self.atom_name == name))[0]
        return self.atom_pos[hits[0]] if len(hits) else None


def _check_protein_path(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: protein file not found")
    if not str(path).lower().endswith(PROTEIN_SUFFIXES):
        raise ValueError(f"{path}: unsupported protein format (expected one of {', '.join(PROTEIN_SUFFIXES)})")


def _pick_altloc_atoms(residue, mode: str) -> list:
    """Atoms of one residue with one altloc per atom name."""
    chosen: dict[str, object] = {}
    for atom in residue:
        name = atom.name
        if name not in chosen:
            chosen[name] = atom
            continue
        if mode == "highest_occupancy" and atom.occ > chosen[name].occ:
            chosen[name] = atom
    return list(chosen.values())


def read_protein(path: str | Path, config: ProteinReadConfig = ProteinReadConfig()) -> Protein:
    """Read the first model of a PDB/mmCIF file (``.gz`` accepted) into a :class:`Protein`."""
    import gemmi

    path = Path(path)
    _check_protein_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a protein file")
    _check_not_empty(path)
    warnings = pdb_truncation_warnings(path) if str(path).lower().endswith(PDB_SUFFIXES) else ()
    try:
        structure = gemmi.read_structure(str(path))
    except (RuntimeError, ValueError, IndexError, OSError) as exc:  # gemmi's C++ errors, a cut .gz stream
        raise ValueError(f"{path}: gemmi could not read the structure ({' '.join(str(exc).split())[:200]})") from None
    if len(structure) == 0 or not any(len(residue) for chain in structure[0] for residue in chain):
        raise ValueError(f"{path}: no atom records (ATOM/HETATM, or an mmCIF atom_site loop); is this a protein "
                         "structure file?")
    structure.setup_entities()
    model = structure[0]
    exclude = {name.upper() for name in config.exclude_residues}
    pos, elem, names, atom_res = [], [], [], []
    res_name, res_chain, res_num, res_aa = [], [], [], []
    dropped = {"water": 0, "hetero": 0, "excluded": 0}
    for chain in model:
        for residue in chain:
            rname = residue.name.upper()
            if residue.is_water():
                if not config.keep_waters:
                    dropped["water"] += 1
                    continue
            elif rname in exclude:
                dropped["excluded"] += 1
                continue
            elif residue.het_flag == "H" and not _is_amino_acid_name(rname):
                is_metal = len(residue) == 1 and residue[0].element.name.upper() in METALS
                if config.hetero == "drop" or (config.hetero == "metals_only" and not is_metal):
                    dropped["hetero"] += 1
                    continue
            atoms = _pick_altloc_atoms(residue, config.altloc)
            if not config.keep_hydrogens:
                atoms = [a for a in atoms if not a.is_hydrogen()]
            if not atoms:
                continue
            r_index = len(res_name)
            atom_names = {a.name for a in atoms}
            res_name.append(rname)
            res_chain.append(chain.name)
            res_num.append(f"{residue.seqid.num}{residue.seqid.icode.strip()}")
            res_aa.append(_is_amino_acid_name(rname) and {"N", "CA", "C"} <= atom_names)
            for atom in atoms:
                pos.append((atom.pos.x, atom.pos.y, atom.pos.z))
                elem.append(atom.element.name.upper())
                names.append(atom.name)
                atom_res.append(r_index)
    if not pos:
        raise ValueError(f"{path}: no atoms left after filtering (check hetero/water options)")
    notes = tuple(f"removed {n} {kind} residue(s)" for kind, n in dropped.items() if n)
    return Protein(
        path=str(path),
        atom_pos=np.asarray(pos, dtype=np.float32),
        atom_element=np.asarray(elem),
        atom_name=np.asarray(names),
        atom_residue=np.asarray(atom_res, dtype=np.int64),
        residue_name=np.asarray(res_name),
        residue_chain=np.asarray(res_chain),
        residue_number=np.asarray(res_num),
        residue_is_amino_acid=np.asarray(res_aa, dtype=bool),
        notes=notes,
        warnings=warnings,
    )


def _check_not_empty(path: Path) -> None:
    """ValueError for a file with no content (0 bytes, or only whitespace once decompressed)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                if block.strip():
                    return
    except (EOFError, OSError) as exc:
        raise ValueError(f"{path}: truncated or unreadable file ({exc})") from None
    raise ValueError(f"{path}: empty protein file")


def pdb_truncation_warnings(path: Path) -> tuple[str, ...]:
    """ValueError when a PDB file (plain or gzipped) is cut mid-record; else the warnings of a file
    that may be cut at a line boundary (no END record, stops inside the coordinate section)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            text = handle.read().decode("latin-1")
    except (EOFError, OSError) as exc:
        raise ValueError(f"{path}: truncated or unreadable file ({exc})") from None
    lines = text.rstrip("\r\n").splitlines()
    if not lines:
        return ()
    last, number = lines[-1].rstrip("\r"), len(lines)
    if last.startswith(("ATOM", "HETATM")):
        previous = next((line.rstrip("\r") for line in reversed(lines[:-1]) if line.startswith(("ATOM", "HETATM"))), "")
        cut_short = len(last) < COORDINATES_END
        cut_unterminated = not text.endswith("\n") and len(last) < len(previous)
        if cut_short or cut_unterminated:
            raise ValueError(f"{path}: truncated: line {number} is cut mid-record ({last[:30].rstrip()!r}...)")
    has_end = any(line[:6].rstrip() == "END" for line in lines)
    if not has_end and last.startswith(COORDINATE_RECORDS):
        return (f"{path}: no END record and the file stops inside the coordinate section "
                f"(line {number}); it may be truncated",)
    return ()


def _is_amino_acid_name(name: str) -> bool:
    return name in AMINO_ACIDS or name in MODIFIED_PARENT


def residue_type_index(name: str) -> int:
    """Index of a residue name in :data:`AMINO_ACIDS` (modified residues -> parent); 20 = other."""
    name = MODIFIED_PARENT.get(name, name)
    return AMINO_ACIDS.index(name) if name in AMINO_ACIDS else len(AMINO_ACIDS)
