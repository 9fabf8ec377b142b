from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from rdkit import Chem

from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.torsions import (
    apply_torsion_updates, dihedral, random_rotation, rigid_move, rotatable_bonds, wrap_angle,
)

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


@pytest.fixture(scope="module")
def trimethoprim():
    mol = read_ligand(DATA / "6XG5_TOP_ligand.sdf").mol
    pos = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)
    return mol, pos


def _angles(mol):
    out = []
    for atom in mol.GetAtoms():
        nbs = [n.GetIdx() for n in atom.GetNeighbors()]
        out += [(a, atom.GetIdx(), b) for i, a in enumerate(nbs) for b in nbs[i + 1:]]
    return out


def _angle(pos, a, b, c):
    u, v = pos[a] - pos[b], pos[c] - pos[b]
    return torch.arccos((u @ v) / (u.norm() * v.norm()))


def _dihedral_quads(mol, edges):
    quads = []
    for u, v in edges.tolist():
        a = next(n.GetIdx() for n in mol.GetAtomWithIdx(u).GetNeighbors() if n.GetIdx() != v)
        d = next(n.GetIdx() for n in mol.GetAtomWithIdx(v).GetNeighbors() if n.GetIdx() != u)
        quads.append((a, u, v, d))
    return quads


def test_rotatable_bonds_rule_and_smaller_side(trimethoprim):
    mol, _ = trimethoprim
    edges, mask = rotatable_bonds(mol)
    assert edges.shape == (5, 2)  # 2 CH2 bonds + 3 aryl-O bonds; O-CH3 bonds are terminal
    assert (mask.sum(1) <= mol.GetNumAtoms() / 2).all()
    for (u, v), m in zip(edges.tolist(), mask):
        assert m[v] and not m[u]
        bond = mol.GetBondBetweenAtoms(u, v)
        assert not bond.IsInRing() and bond.GetBondTypeAsDouble() == 1.0
    edges_amide, _ = rotatable_bonds(Chem.MolFromSmiles("c1ccccc1C(=O)N"))
    # aryl-C(=O) rotates; the C-NH2 bond does not (N has no other heavy neighbour)
    assert sorted(edges_amide[0].tolist()) == [5, 6]


def test_rotatable_bond_counts_small_molecules():
    assert rotatable_bonds(Chem.MolFromSmiles("CCCC"))[0].shape[0] == 1
    assert rotatable_bonds(Chem.MolFromSmiles("CC"))[0].shape[0] == 0
    assert rotatable_bonds(Chem.MolFromSmiles("C1CCCCC1"))[0].shape[0] == 0
    assert rotatable_bonds(Chem.MolFromSmiles("C=CC=C"))[0].shape[0] == 1


@pytest.mark.parametrize("k", range(5))
def test_torsion_update_changes_only_its_dihedral(trimethoprim, k):
    mol, pos = trimethoprim
    edges, mask = rotatable_bonds(mol)
    delta = torch.zeros(edges.shape[0], dtype=torch.float64)
    delta[k] = 1.234
    new = apply_torsion_updates(pos, edges, mask, delta)
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        assert torch.allclose((new[i] - new[j]).norm(), (pos[i] - pos[j]).norm(), atol=1e-9)
    for a, b, c in _angles(mol):
        assert torch.allclose(_angle(new, a, b, c), _angle(pos, a, b, c), atol=1e-9)
    for m, (a, u, v, d) in enumerate(_dihedral_quads(mol, edges)):
        change = wrap_angle(dihedral(new, a, u, v, d) - dihedral(pos, a, u, v, d))
        expected = 1.234 if m == k else 0.0
        assert abs(float(change) - expected) < 1e-9, (m, float(change))
    assert not torch.allclose(new, pos)


def test_torsion_update_full_turn_is_identity_and_input_untouched(trimethoprim):
    mol, pos = trimethoprim
    edges, mask = rotatable_bonds(mol)
    before = pos.clone()
    out = apply_torsion_updates(pos, edges, mask, torch.full((edges.shape[0],), 2 * math.pi, dtype=torch.float64))
    assert torch.allclose(out, pos, atol=1e-9) and torch.equal(pos, before)
    with pytest.raises(ValueError, match="delta"):
        apply_torsion_updates(pos, edges, mask, torch.zeros(2, dtype=torch.float64))


def test_rigid_move_preserves_internal_distances(trimethoprim):
    _, pos = trimethoprim
    rot = random_rotation(torch.float64, torch.Generator().manual_seed(0))
    assert torch.allclose(rot @ rot.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.isclose(torch.det(rot), torch.tensor(1.0, dtype=torch.float64))
    moved = rigid_move(pos, rot, torch.tensor([3.0, -2.0, 7.5], dtype=torch.float64))
    assert torch.allclose(torch.cdist(moved, moved), torch.cdist(pos, pos), atol=1e-9)
    assert torch.allclose(moved.mean(0), pos.mean(0) + torch.tensor([3.0, -2.0, 7.5], dtype=torch.float64))
