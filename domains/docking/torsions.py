"""Rotatable bonds of a ligand and the side of each bond that a torsion update moves.

A bond is rotatable when it matches RDKit's *strict* rotatable-bond SMARTS (the pattern behind
``rdMolDescriptors.CalcNumRotatableBonds(mol, strict=True)``, RDKit ``Lipinski.cpp``, version 3.1.0,
reproduced in :data:`STRICT_ROTATABLE_SMARTS`): a single (or aromatic) bond outside rings between
two atoms that each have another heavy neighbour, where neither atom is in a triple bond, a CF3,
CCl3, CBr3 or tert-butyl carbon, and the bond is not the C–N / C–O / C–S bond of an amide, ester,
thioester or amidinium (those stay planar, as in Vina and Meeko). So ``CC(=O)NC`` has none,
``CCC#N`` none, ``c1ccccc1-c1ccccc1`` one.

The moving side of bond (u, v) is the side holding v after removing the bond, chosen as the smaller
side (ties: the bond's end atom). With that choice one rigid fragment never moves and the moving
sides of all bonds are nested or disjoint (a rooted torsion tree), which
:mod:`sciffusion.domains.docking.kinematics` relies on.

Pose maths (torsion updates, rigid moves, dihedrals) lives in :mod:`~sciffusion.domains.docking.kinematics`;
``apply_torsion_updates``, ``rigid_move`` and ``dihedral`` are importable from here as well.
"""
from __future__ import annotations

import torch
from torch import Tensor

from sciffusion.domains.docking.kinematics import apply_torsion_updates, dihedral, rigid_move  # noqa: F401

STRICT_ROTATABLE_SMARTS = (
    "[!$(*#*)&!D1&!$(C(F)(F)F)&!$(C(Cl)(Cl)Cl)&!$(C(Br)(Br)Br)&!$(C([CH3])([CH3])[CH3])"
    "&!$([CD3](=[N,O,S])-!@[#7,O,S!D1])&!$([#7,O,S!D1]-!@[CD3]=[N,O,S])&!$([CD3](=[N+])-!@[#7!D1])"
    "&!$([#7!D1]-!@[CD3]=[N+])]-,:;!@[!$(*#*)&!D1&!$(C(F)(F)F)&!$(C(Cl)(Cl)Cl)&!$(C(Br)(Br)Br)"
    "&!$(C([CH3])([CH3])[CH3])]"
)
"""RDKit's strict rotatable-bond pattern (Lipinski.cpp, ``NumRotatableBondsOptions.Strict``).
The amide/ester exclusions sit on the first atom only; a bond counts when it matches in either
direction, so an aryl–C(=O)N bond is rotatable and the C(=O)–N bond is not."""


def rotatable_bond_pairs(mol) -> list[tuple[int, int]]:
    """Atom index pairs (begin, end) of the strict rotatable bonds of a heavy-atom RDKit Mol, in
    bond order. Hydrogens that ``RemoveHs`` keeps (e.g. the N–H fixing an imine's stereo) are fine;
    a Mol with hydrogens on carbon is a ValueError (a CH3 would no longer be terminal)."""
    from rdkit import Chem

    if any(atom.GetAtomicNum() == 1 and any(n.GetAtomicNum() == 6 for n in atom.GetNeighbors())
           for atom in mol.GetAtoms()):
        raise ValueError("ligand: rotatable bonds need a heavy-atom molecule, got hydrogens on carbon "
                         "(conformers.strip_hydrogens first)")
    pattern = Chem.MolFromSmarts(STRICT_ROTATABLE_SMARTS)
    matched = {frozenset(match) for match in mol.GetSubstructMatches(pattern, uniquify=False, maxMatches=1_000_000)}
    return [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()
            if frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) in matched]


def rotatable_bonds(mol) -> tuple[Tensor, Tensor]:
    """Rotatable bonds of a heavy-atom RDKit Mol and the atoms each one moves.

    Returns ``edges`` [n_rot, 2] int64 (u, v), v on the moving side, and ``mask`` [n_rot, N] bool:
    the atoms that move (v's side, the smaller side; ties keep the bond's end atom side).
    """
    n = mol.GetNumAtoms()
    edges, masks = [], []
    for u, v in rotatable_bond_pairs(mol):
        side = bond_side(mol, u, v)
        if int(side.sum()) > n - int(side.sum()):
            u, v = v, u
            side = ~side
        edges.append((u, v))
        masks.append(side)
    if not edges:
        return torch.zeros((0, 2), dtype=torch.long), torch.zeros((0, n), dtype=torch.bool)
    return torch.tensor(edges, dtype=torch.long), torch.stack(masks)


def bond_side(mol, u: int, v: int) -> Tensor:
    """Atoms reachable from v without crossing bond (u, v), as a [N] bool mask (includes v).
    Raises ValueError when (u, v) lies in a ring (both sides would be the whole molecule)."""
    seen = torch.zeros(mol.GetNumAtoms(), dtype=torch.bool)
    stack = [v]
    seen[v] = True
    while stack:
        atom = stack.pop()
        for nb in mol.GetAtomWithIdx(atom).GetNeighbors():
            j = nb.GetIdx()
            if atom == v and j == u or seen[j]:
                continue
            seen[j] = True
            stack.append(j)
    if seen[u]:
        raise ValueError(f"bond ({u}, {v}): in a ring, it has no moving side")
    return seen


def dihedral_quadruples(mol, edges: Tensor) -> Tensor:
    """One dihedral a-u-v-d per rotatable bond: a = u's lowest-index heavy neighbour other than v,
    d = v's lowest-index heavy neighbour other than u. Returns [n_rot, 4] int64."""
    quads = []
    for u, v in edges.tolist():
        a = min(n.GetIdx() for n in mol.GetAtomWithIdx(u).GetNeighbors() if n.GetIdx() != v and n.GetAtomicNum() > 1)
        d = min(n.GetIdx() for n in mol.GetAtomWithIdx(v).GetNeighbors() if n.GetIdx() != u and n.GetAtomicNum() > 1)
        quads.append((a, u, v, d))
    return torch.tensor(quads, dtype=torch.long).reshape(-1, 4)
