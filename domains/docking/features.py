"""Categorical node and edge features for ligands and receptors (integer codes, torch tensors).

Every vocabulary ends with an "other" slot, so unseen values never fail. Column order of the ligand
atom features is :data:`LIGAND_ATOM_FEATURES`; ``LIGAND_ATOM_CARDINALITY`` gives each column's size
(for embedding tables).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sciffusion.domains.docking.protein import AMINO_ACIDS, Protein, residue_type_index

ELEMENTS = ("C", "N", "O", "S", "P", "F", "CL", "BR", "I", "B", "SI", "SE")
DEGREES = (0, 1, 2, 3, 4, 5, 6)
FORMAL_CHARGES = (-2, -1, 0, 1, 2)
HYBRIDISATIONS = ("S", "SP", "SP2", "SP3", "SP3D", "SP3D2")
CHIRALITIES = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW")
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
RECEPTOR_ELEMENTS = ("C", "N", "O", "S", "SE", "P", "ZN", "MG", "CA", "MN", "FE", "NA", "K", "CL")
LIGAND_ATOM_FEATURES = ("element", "degree", "formal_charge", "aromatic", "hybridisation", "in_ring", "chirality")
LIGAND_ATOM_CARDINALITY = (len(ELEMENTS) + 1, len(DEGREES) + 1, len(FORMAL_CHARGES) + 1, 2,
                           len(HYBRIDISATIONS) + 1, 2, len(CHIRALITIES) + 1)
NUM_RESIDUE_TYPES = len(AMINO_ACIDS) + 1
# Ideal CB placement from N, CA, C (Engh & Huber geometry; used for glycine and missing CB).
_CB_COEFFS = (-0.58273431, 0.56802827, -0.54067466)


def _code(value, vocabulary) -> int:
    return vocabulary.index(value) if value in vocabulary else len(vocabulary)


def ligand_atom_features(mol) -> Tensor:
    """[N, 7] int64 codes for element, degree, formal charge, aromaticity, hybridisation, ring
    membership and chirality tag of each atom of an RDKit Mol."""
    rows = []
    for atom in mol.GetAtoms():
        rows.append((
            _code(atom.GetSymbol().upper(), ELEMENTS),
            _code(atom.GetDegree(), DEGREES),
            _code(atom.GetFormalCharge(), FORMAL_CHARGES),
            int(atom.GetIsAromatic()),
            _code(str(atom.GetHybridization()), HYBRIDISATIONS),
            int(atom.IsInRing()),
            _code(str(atom.GetChiralTag()), CHIRALITIES),
        ))
    return torch.tensor(rows, dtype=torch.long).reshape(-1, len(LIGAND_ATOM_FEATURES))


def ligand_bonds(mol) -> tuple[Tensor, Tensor]:
    """Bonds in both directions: edge_index [2, 2B] int64 and bond type codes [2B] int64."""
    src, dst, kind = [], [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        code = _code(str(bond.GetBondType()), BOND_TYPES)
        src += [i, j]
        dst += [j, i]
        kind += [code, code]
    return torch.tensor([src, dst], dtype=torch.long).reshape(2, -1), torch.tensor(kind, dtype=torch.long)


def residue_features(protein: Protein) -> dict[str, Tensor]:
    """Amino-acid residues (with N, CA, C) of ``protein``.

    Returns ``pos`` [R, 3] float32 Cα positions (Å), ``type`` [R] int64 residue codes,
    ``side_chain_vecs`` [R, 3, 3] float32: N−Cα, C−Cα and Cβ−Cα vectors (Å; ideal Cβ for glycine or a
    missing Cβ), and ``residue_index`` [R] int64 indices into the protein's residue arrays.
    """
    keep = np.nonzero(protein.residue_is_amino_acid)[0]
    ca, vecs, types = [], [], []
    for r in keep:
        n = protein.residue_atom_pos(r, "N")
        a = protein.residue_atom_pos(r, "CA")
        c = protein.residue_atom_pos(r, "C")
        cb = protein.residue_atom_pos(r, "CB")
        if cb is None:
            b, cc = a - n, c - a
            cb = _CB_COEFFS[0] * np.cross(b, cc) + _CB_COEFFS[1] * b + _CB_COEFFS[2] * cc + a
        ca.append(a)
        vecs.append(np.stack([n - a, c - a, cb - a]))
        types.append(residue_type_index(str(protein.residue_name[r])))
    return {
        "pos": torch.tensor(np.asarray(ca, dtype=np.float32).reshape(-1, 3)),
        "type": torch.tensor(types, dtype=torch.long),
        "side_chain_vecs": torch.tensor(np.asarray(vecs, dtype=np.float32).reshape(-1, 3, 3)),
        "residue_index": torch.tensor(keep, dtype=torch.long),
    }


def receptor_atom_features(protein: Protein) -> dict[str, Tensor]:
    """All receptor atoms: ``pos`` [A, 3] float32 (Å), ``element`` [A] int64 codes over
    :data:`RECEPTOR_ELEMENTS`, ``residue_index`` [A] int64 (into the protein's residue arrays)."""
    return {
        "pos": torch.tensor(protein.atom_pos, dtype=torch.float32),
        "element": torch.tensor([_code(e, RECEPTOR_ELEMENTS) for e in protein.atom_element], dtype=torch.long),
        "residue_index": torch.tensor(protein.atom_residue, dtype=torch.long),
    }
