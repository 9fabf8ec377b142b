"""What ``sciffusion dock --ligand`` accepts, read record by record, named, and made ready to dock.

``--ligand`` is a file (``.sdf``/``.sdf.gz``/``.mol2``/``.smi``/``.csv`` with many records, or one
``.mol``) or else a SMILES string. Every record becomes one :class:`LigandInput`: the parsed
record, or the one-line reason it could not be read (:mod:`ligand_io`'s record-level reader, so a bad
record never hides the others). Names come from the SDF title (``_Name``), the CSV ``name``/``id``
column or the ``.smi`` second field, else ``<file stem>_<record>`` (``ligand`` for a SMILES string);
:func:`safe_names` makes them filesystem-safe and unique.

:func:`prepare_ligand` turns a record into a :class:`pose_generators.PreparedLigand`: heavy atoms, a
start conformer (seeded ETKDG for SMILES and 2D input, or for every input unless
``keep_conformer``), checked to keep the input's stereocentres.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sciffusion.domains.docking.ligand_io import (
    BATCH_SUFFIXES, SINGLE_SUFFIXES, LigandRecord, LigandRecordError, read_ligand, read_ligands, record_label,
    smiles_record,
)

RESERVED_NAMES = frozenset({"summary.csv", "config.json", "timing.csv"})
"""Files the dock output folder holds next to the ligand folders."""
MAX_NAME_LENGTH = 80
RDKIT_SEED_MAX = 2**31 - 1  # ETKDG's randomSeed is a signed 32-bit int


@dataclass(frozen=True)
class LigandInput:
    """One input record: ``index`` 1-based over the whole input, ``name`` (filesystem-safe, unique
    after :func:`safe_names`), ``record`` (None when it could not be read) and ``error`` (why not),
    ``smiles``: the SMILES as given (SMILES inputs) or written by RDKit (parsed files; '' if unread).
    ``error`` names the record (``record 4, lines 30-41: <problem>``) when it came from a file."""

    index: int
    name: str
    record: LigandRecord | None
    error: str = ""
    smiles: str = ""


def _is_ligand_file(spec: str) -> bool:
    lower = spec.lower()
    return any(lower.endswith(s) for s in set(BATCH_SUFFIXES) | set(SINGLE_SUFFIXES))


def read_ligand_inputs(spec: str) -> list[LigandInput]:
    """Every record of ``spec`` (a ligand file, or a SMILES string when it is no ligand file name).

    A missing file named with a ligand suffix is a ``FileNotFoundError``; an unreadable file (no
    SMILES column, no records) a ``ValueError``; a bad record is an input with ``error`` set (RDKit's
    own log lines about it are held back: the error says it once).
    """
    from rdkit import rdBase

    with rdBase.BlockLogs():
        return _read_inputs(spec)


def _path_kind(path: Path) -> str:
    """``file``, ``folder`` or ``""`` (nothing there, or a name no file can have, e.g. a long SMILES)."""
    try:
        return "file" if path.is_file() else "folder" if path.is_dir() else ""
    except OSError:  # ENAMETOOLONG: a SMILES string longer than a file name may be
        return ""


def _read_inputs(spec: str) -> list[LigandInput]:
    from rdkit import Chem

    path = Path(spec)
    if not _is_ligand_file(spec):
        kind = _path_kind(path)
        if kind == "file":
            raise ValueError(f"{spec}: unsupported ligand file (expected .sdf, .sdf.gz, .mol, .mol2, .smi or .csv)")
        if kind == "folder":
            raise IsADirectoryError(f"{spec}: is a folder; --ligand takes a ligand file (.sdf, .sdf.gz, .mol, "
                                    ".mol2, .smi, .csv) or a SMILES string")
        try:
            record = smiles_record(spec.strip(), name="ligand")
            return safe_names([LigandInput(1, "ligand", record, smiles=spec.strip())])
        except LigandRecordError as exc:
            return [LigandInput(1, "ligand", None, exc.problem, smiles=spec.strip())]
    if not path.exists():
        raise FileNotFoundError(f"{spec}: ligand file not found")
    if path.name.lower().endswith(".mol"):
        items: list = []
        try:
            items.append(read_ligand(path))
        except LigandRecordError as exc:
            items.append(exc)
    else:
        batch = read_ligands(path)
        items = sorted([*batch.records, *batch.failures], key=lambda item: item.record)
    inputs = []
    for k, item in enumerate(items, start=1):
        default = f"{_stem(path)}_{item.record}"
        if isinstance(item, LigandRecordError):
            inputs.append(LigandInput(k, item.name or default, None,
                                      f"{record_label(item.record, lines=item.lines)}: {item.problem}"))
        else:
            inputs.append(LigandInput(k, item.name or default, item, smiles=Chem.MolToSmiles(item.mol)))
    return safe_names(inputs)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(set(BATCH_SUFFIXES) | set(SINGLE_SUFFIXES), key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "ligand"
    return path.stem


def safe_name(name: str, fallback: str = "ligand") -> str:
    """A folder name made of ``[A-Za-z0-9._-]`` (others become ``_``), no leading dot or dash, at most
    80 characters, at least one letter or digit (else ``fallback``); ``seed_*`` (what ``docking evaluate`` reads as a seed run) gets a ``ligand_`` prefix."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).lstrip(".-")[:MAX_NAME_LENGTH].rstrip(".")
    clean = clean if re.search(r"[A-Za-z0-9]", clean) else fallback
    if clean.lower().startswith("seed_"):
        clean = f"ligand_{clean}"[:MAX_NAME_LENGTH]
    return clean


def safe_names(inputs: list[LigandInput]) -> list[LigandInput]:
    """Inputs renamed with :func:`safe_name`, unique ignoring case (later duplicates get ``_2``, ``_3``,
    ...; names of the output folder's own files are never used)."""
    from dataclasses import replace

    taken = {n.lower() for n in RESERVED_NAMES}
    out = []
    for item in inputs:
        base = safe_name(item.name, fallback=f"ligand_{item.index}")
        name, k = base, 1
        while name.lower() in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name.lower())
        out.append(replace(item, name=name))
    return out


def stereo_labels(mol) -> dict[int, str]:
    """{atom index: CIP label 'R'/'S'} of the defined tetrahedral stereocentres of ``mol`` (heavy-atom
    indices; a Mol with hydrogens gives the same labels for its heavy atoms)."""
    from rdkit import Chem

    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=False, useLegacyImplementation=False)
    return {int(i): label for i, label in centres}


def double_bond_labels(mol) -> dict[tuple[int, int], str]:
    """{(begin, end): 'E'/'Z'} of the stereo double bonds of ``mol`` (CIP, new stereo perception)."""
    from rdkit import Chem
    from rdkit.Chem import rdCIPLabeler

    copy = Chem.Mol(mol)
    rdCIPLabeler.AssignCIPLabels(copy)
    out = {}
    for bond in copy.GetBonds():
        if bond.GetBondType() == Chem.BondType.DOUBLE and bond.HasProp("_CIPCode"):
            out[(bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())] = bond.GetProp("_CIPCode")
    return out


COUNTER_ION_MAX_HEAVY = 12  # tosylate 11, maleate/fumarate 8, TFA 7, mesylate 5, halides 1


def without_counter_ions(mol, name: str):
    """Heavy-atom ``mol`` without the counter-ions of a salt: its largest fragment, when every other
    fragment has at most :data:`COUNTER_ION_MAX_HEAVY` heavy atoms and fewer than the largest (as
    vendor libraries write ``.Cl``, ``.[Na+]``, ``.OC(=O)C(F)(F)F``). Other mixtures have no single pose:
    a one-line ``ValueError`` naming ``name`` and the fragments."""
    from rdkit import Chem

    fragments = sorted(Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False), key=lambda f: -f.GetNumAtoms())
    if len(fragments) == 1:
        return mol
    largest, rest = fragments[0].GetNumAtoms(), [f.GetNumAtoms() for f in fragments[1:]]
    if max(rest) <= COUNTER_ION_MAX_HEAVY and max(rest) < largest:
        return Chem.Mol(fragments[0])
    parts = " ".join(Chem.MolToSmiles(f) for f in fragments)
    raise ValueError(f"{name}: {len(fragments)} disconnected fragments ({parts[:120]}) and no single main one: "
                     "a mixture has no single pose; dock one molecule")


def docking_molecule(mol, name: str, max_heavy_atoms: int = 150):
    """The heavy-atom molecule that is docked for a read ligand ``mol``: hydrogens removed, a salt's
    counter-ions dropped (:func:`without_counter_ions`). One-line ``ValueError`` naming ``name`` for no
    heavy atoms, more than ``max_heavy_atoms``, or a mixture. Cheap (no embedding): ``docking
    check-ligands`` runs it on every record, so that it reports what ``dock`` would refuse."""
    from sciffusion.domains.docking.conformers import strip_hydrogens

    heavy = sum(atom.GetAtomicNum() > 1 for atom in mol.GetAtoms())
    if heavy == 0:
        raise ValueError(f"{name}: no heavy atoms")
    if heavy > max_heavy_atoms:
        raise ValueError(f"{name}: {heavy} heavy atoms, more than the limit of {max_heavy_atoms}")
    return without_counter_ions(strip_hydrogens(mol), name)


def prepare_ligand(item: LigandInput, seed: int = 0, keep_conformer: bool = False, max_heavy_atoms: int = 150,
                   conformers: int = 1):
    """A :class:`pose_generators.PreparedLigand` for ``item`` (a read record).

    The start conformers are ``conformers`` seeded ETKDGv3 + MMFF embeddings
    (``conformers.embed_conformer``, RDKit seeds seed+1, …, seed+C as in the prepared cache), unless
    ``keep_conformer`` and the input had 3D coordinates: then the input's pose is conformer 0 and
    C − 1 embeddings follow. Input hydrogens are removed (the model sees heavy atoms; hydrogens are
    placed again on output). Raises ``ValueError`` (one line, naming the ligand) for no heavy atoms,
    more than ``max_heavy_atoms``, a mixture of fragments (a salt's counter-ions are dropped first:
    :func:`without_counter_ions`), a failed embedding, or a conformer whose stereocentres (CIP R/S,
    E/Z) differ from the input's.
    """
    from rdkit import Chem, rdBase

    if item.record is None:
        raise ValueError(item.error)
    if conformers < 1:
        raise ValueError(f"conformers: must be >= 1, got {conformers}")
    mol = docking_molecule(item.record.mol, item.name, max_heavy_atoms)
    with rdBase.BlockLogs():  # e.g. UFF typer lines for metals: the embedding succeeds or raises one line
        return _with_conformers(item, mol, seed, keep_conformer, conformers)


def _with_conformers(item: LigandInput, mol, seed: int, keep_conformer: bool, conformers: int):
    """:func:`prepare_ligand`'s start conformers on heavy-atom ``mol`` (see there)."""
    from rdkit import Chem

    from sciffusion.domains.docking.conformers import embed_conformer
    from sciffusion.domains.docking.pose_generators import PreparedLigand

    keep = keep_conformer and item.record.has_3d
    if not keep:
        mol.RemoveAllConformers()
    want = (stereo_labels(mol), double_bond_labels(mol))
    for k in range(conformers - (1 if keep else 0)):
        rdkit_seed = (seed + 1 + k) % (RDKIT_SEED_MAX + 1)
        try:
            embedded = embed_conformer(mol, seed=rdkit_seed)
        except ValueError:
            raise ValueError(f"{item.name}: ETKDG could not embed a conformer (seed {rdkit_seed})") from None
        check = Chem.Mol(embedded)
        Chem.AssignStereochemistryFrom3D(check)
        got = (stereo_labels(check), double_bond_labels(check))
        for wanted, found in zip(want, got):
            if any(found.get(key) != label for key, label in wanted.items()):
                raise ValueError(f"{item.name}: the embedded conformer's stereo {found} differs from the "
                                 f"input's {wanted}")
        mol.AddConformer(Chem.Conformer(embedded.GetConformer()), assignId=True)
    mol.SetProp("_Name", item.name)
    return PreparedLigand.from_mol(item.name, mol)
