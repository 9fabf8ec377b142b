"""Pocket definitions and their resolution to a box (centre and size, Å) on a given protein.

Four ways to say where to dock:
- :class:`BlindPocket`: the whole protein (its atoms' bounding box plus ``margin``);
- :class:`BoxPocket`: an explicit centre and size;
- :class:`LigandPocket`: a reference ligand's heavy-atom bounding box plus ``margin`` (default 4 Å,
  as Vina's ``autobox_add``);
- :class:`ResiduePocket`: the bounding box of listed residues (``"A:45"``, ``"A:45A"``) plus ``margin``.
A box with a non-positive size, or one holding no protein atom, is an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from sciffusion.domains.docking.protein import Protein


@dataclass(frozen=True)
class Box:
    """Axis-aligned box: ``center`` (x, y, z) and edge lengths ``size`` (x, y, z), Å."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.center) != 3 or len(self.size) != 3:
            raise ValueError(f"box: center and size need 3 values each, got {self.center}, {self.size}")
        if not all(np.isfinite(self.center)) or not all(np.isfinite(self.size)):
            raise ValueError(f"box: center/size must be finite, got {self.center}, {self.size}")
        if min(self.size) <= 0:
            raise ValueError(f"box: every size must be > 0 Å, got {self.size}")

    def contains(self, pos: np.ndarray) -> np.ndarray:
        """[N] bool: which rows of ``pos`` [N, 3] (Å) lie inside the box."""
        half = np.asarray(self.size) / 2
        return np.all(np.abs(np.asarray(pos) - np.asarray(self.center)) <= half, axis=1)

    @classmethod
    def around(cls, pos: np.ndarray, margin: float) -> "Box":
        """Bounding box of ``pos`` [N, 3] padded by ``margin`` Å on every side."""
        pos = np.asarray(pos, dtype=np.float64)
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        return cls(center=tuple(float(v) for v in (lo + hi) / 2),
                   size=tuple(float(v) for v in hi - lo + 2 * margin))


def _check_margin(margin: float) -> None:
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"pocket margin: must be a finite number >= 0 Å, got {margin}")


@dataclass(frozen=True)
class BlindPocket:
    """Whole protein."""

    margin: float = 0.0

    def __post_init__(self) -> None:
        _check_margin(self.margin)


@dataclass(frozen=True)
class BoxPocket:
    """Explicit box, Å."""

    box: Box


@dataclass(frozen=True)
class LigandPocket:
    """Reference ligand heavy atoms ``ligand_pos`` [N, 3] (Å) plus ``margin`` Å per side."""

    ligand_pos: tuple[tuple[float, float, float], ...]
    margin: float = 4.0

    def __post_init__(self) -> None:
        _check_margin(self.margin)
        if len(self.ligand_pos) == 0:
            raise ValueError("reference ligand pocket: the ligand has no atoms")


@dataclass(frozen=True)
class ResiduePocket:
    """Residues as ``"CHAIN:NUMBER[ICODE]"`` (e.g. ``"A:45"``), bounding box plus ``margin`` Å."""

    residues: tuple[str, ...]
    margin: float = 4.0

    def __post_init__(self) -> None:
        _check_margin(self.margin)
        if not self.residues:
            raise ValueError("residue pocket: empty residue list")
        for res in self.residues:
            if res.count(":") != 1 or not all(res.split(":")):
                raise ValueError(f"residue pocket: {res!r} is not CHAIN:NUMBER (e.g. A:45)")


PocketSpec = Union[BlindPocket, BoxPocket, LigandPocket, ResiduePocket]


def ligand_pocket_from_mol(mol, margin: float = 4.0) -> LigandPocket:
    """A :class:`LigandPocket` from an RDKit Mol's heavy atoms (first conformer)."""
    if mol.GetNumConformers() == 0:
        raise ValueError("reference ligand pocket: the ligand has no coordinates")
    pos = mol.GetConformer().GetPositions()
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    return LigandPocket(ligand_pos=tuple(tuple(float(v) for v in pos[i]) for i in heavy), margin=margin)


def resolve_pocket(spec: PocketSpec, protein: Protein) -> Box:
    """Turn a pocket definition into a :class:`Box` on ``protein``; errors name the problem."""
    if isinstance(spec, BlindPocket):
        box = Box.around(protein.atom_pos, spec.margin)
    elif isinstance(spec, BoxPocket):
        box = spec.box
    elif isinstance(spec, LigandPocket):
        box = Box.around(np.asarray(spec.ligand_pos), spec.margin)
    elif isinstance(spec, ResiduePocket):
        box = Box.around(protein.atom_pos[_residue_atoms(spec.residues, protein)], spec.margin)
    else:
        raise ValueError(f"pocket: unknown definition {type(spec).__name__}")
    n_inside = int(box.contains(protein.atom_pos).sum())
    if n_inside == 0:
        raise ValueError(f"{protein.path}: pocket box centre {_fmt(box.center)} size {_fmt(box.size)} Å "
                         "holds no protein atom (outside the protein or empty)")
    return box


def _residue_atoms(residues: tuple[str, ...], protein: Protein) -> np.ndarray:
    keys = np.char.add(np.char.add(protein.residue_chain.astype(str), ":"), protein.residue_number.astype(str))
    mask = np.zeros(protein.num_atoms, dtype=bool)
    missing = []
    for res in residues:
        hits = np.nonzero(keys == res)[0]
        if len(hits) == 0:
            missing.append(res)
        mask |= np.isin(protein.atom_residue, hits)
    if missing:
        label = "residue" if len(missing) == 1 else f"{len(missing)} of {len(residues)} residues"
        raise ValueError(f"{protein.path}: {label} {' '.join(missing)} not found")
    return mask


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in values) + ")"
