from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sciffusion.common.manifolds.so3 import exp_map, random_rotation
from sciffusion.common.manifolds.torus import wrap
from sciffusion.domains.docking.kinematics import (
    apply_pose, apply_torsion_updates, apply_torsions, centroids, dihedrals, kabsch_rotation, mask_to_index,
    rigid_move, torsion_tree,
)
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.torsions import dihedral_quadruples, rotatable_bonds

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
SHARED = Path("/work/shared/data/docking/train_pdbbind2020_subset")
REAL = [DATA / "6XG5_TOP_ligand.sdf", DATA / "6YQW_82I_ligand.sdf"] + [SHARED / f"{c}_ligand.sdf" for c in
                                                                      ("1ATL", "1D3D", "1M48") if SHARED.is_dir()]


def _ligand(path):
    mol = read_ligand(path).mol
    edges, mask = rotatable_bonds(mol)
    return mol, torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64), edges, mask


def _sequential(pos, edges, mask, delta):
    """Reference: DiffDock's scheme, each bond's side rotated in turn about its current axis."""
    pos = pos.clone()
    for k in range(edges.shape[0]):
        u, v = int(edges[k, 0]), int(edges[k, 1])
        axis = (pos[v] - pos[u]) / (pos[v] - pos[u]).norm()
        rot = exp_map(axis * delta[k])
        pos[mask[k]] = (pos[mask[k]] - pos[v]) @ rot.T + pos[v]
    return pos


def _angles(mol):
    out = []
    for atom in mol.GetAtoms():
        nbs = [n.GetIdx() for n in atom.GetNeighbors()]
        out += [(a, atom.GetIdx(), b) for i, a in enumerate(nbs) for b in nbs[i + 1:]]
    return torch.tensor(out)


def _bond_lengths_and_angles(mol, pos):
    bonds = torch.tensor([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()])
    tri = _angles(mol)
    u, v = pos[tri[:, 0]] - pos[tri[:, 1]], pos[tri[:, 2]] - pos[tri[:, 1]]
    return (pos[bonds[:, 0]] - pos[bonds[:, 1]]).norm(dim=1), torch.atan2(torch.linalg.cross(u, v).norm(dim=1),
                                                                          (u * v).sum(1))


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_matches_sequential_updates_in_any_order_and_keeps_geometry(path):
    mol, pos, edges, mask = _ligand(path)
    g = torch.Generator().manual_seed(0)
    delta = 3 * torch.randn(edges.shape[0], generator=g, dtype=torch.float64)
    new = apply_torsion_updates(pos, edges, mask, delta)
    assert torch.allclose(new, _sequential(pos, edges, mask, delta), atol=1e-9)
    perm = torch.randperm(edges.shape[0], generator=g)
    assert torch.allclose(new, _sequential(pos, edges[perm], mask[perm], delta[perm]), atol=1e-9)
    t, rot = torch.randn(1, 3, generator=g, dtype=torch.float64), random_rotation(1, generator=g)
    moved = apply_pose(pos, torch.zeros(len(pos), dtype=torch.long), edges, *mask_to_index(mask), t, rot, delta)
    for before, after in zip(_bond_lengths_and_angles(mol, pos), _bond_lengths_and_angles(mol, moved)):
        assert torch.allclose(before, after, atol=1e-9)
    if edges.shape[0]:
        assert not torch.allclose(new, pos)


@pytest.mark.parametrize("k", range(5))
def test_each_dihedral_changes_by_exactly_its_angle(k):
    mol, pos, edges, mask = _ligand(DATA / "6XG5_TOP_ligand.sdf")
    quads = dihedral_quadruples(mol, edges)
    delta = torch.tensor([0.3, -1.1, 2.9, -3.0, 1.7], dtype=torch.float64)
    delta[k] = 4.0  # wraps to 4 - 2π
    new = apply_torsion_updates(pos, edges, mask, delta)
    change = wrap(dihedrals(new, quads) - dihedrals(pos, quads))
    assert torch.allclose(change, wrap(delta), atol=1e-9)


def test_zero_update_and_full_turn_are_identity_input_untouched():
    _, pos, edges, mask = _ligand(DATA / "6XG5_TOP_ligand.sdf")
    before = pos.clone()
    batch = torch.zeros(len(pos), dtype=torch.long)
    same = apply_pose(pos, batch, edges, *mask_to_index(mask), torch.zeros(1, 3, dtype=torch.float64),
                      torch.zeros(1, 3, dtype=torch.float64), torch.zeros(5, dtype=torch.float64))
    assert torch.allclose(same, pos, atol=1e-12) and torch.equal(pos, before)
    turn = apply_torsion_updates(pos, edges, mask, torch.full((5,), 2 * math.pi, dtype=torch.float64))
    assert torch.allclose(turn, pos, atol=1e-9)
    with pytest.raises(ValueError, match="delta"):
        apply_torsion_updates(pos, edges, mask, torch.zeros(2, dtype=torch.float64))


def test_rigid_convention_rotation_about_centroid_then_translation():
    _, pos, edges, mask = _ligand(DATA / "6XG5_TOP_ligand.sdf")
    g = torch.Generator().manual_seed(3)
    rotvec, t = torch.randn(1, 3, generator=g, dtype=torch.float64), torch.randn(1, 3, generator=g, dtype=torch.float64)
    delta = torch.randn(5, generator=g, dtype=torch.float64)
    batch = torch.zeros(len(pos), dtype=torch.long)
    out = apply_pose(pos, batch, edges, *mask_to_index(mask), t, rotvec, delta)
    flex = apply_torsion_updates(pos, edges, mask, delta)
    assert torch.allclose(out, rigid_move(flex, exp_map(rotvec[0]), t[0]), atol=1e-12)
    assert torch.allclose(out.mean(0), flex.mean(0) + t[0], atol=1e-12)  # centroid moves by t exactly
    assert torch.allclose(out, apply_pose(pos, batch, edges, *mask_to_index(mask), t, exp_map(rotvec), delta))


def test_batched_equals_one_at_a_time():
    ligands = [_ligand(p) for p in REAL]
    g = torch.Generator().manual_seed(1)
    pos, batch, edges, mt, ma, deltas, singles = [], [], [], [], [], [], []
    n_atoms = n_rot = 0
    trans = torch.randn(len(ligands), 3, generator=g, dtype=torch.float64)
    rots = random_rotation(len(ligands), generator=g)
    for b, (_, p, e, m) in enumerate(ligands):
        d = torch.randn(e.shape[0], generator=g, dtype=torch.float64)
        t_idx, a_idx = mask_to_index(m)
        singles.append(apply_pose(p, torch.zeros(len(p), dtype=torch.long), e, t_idx, a_idx, trans[b:b + 1],
                                  rots[b:b + 1], d))
        pos.append(p), batch.append(torch.full((len(p),), b)), edges.append(e + n_atoms)
        mt.append(t_idx + n_rot), ma.append(a_idx + n_atoms), deltas.append(d)
        n_atoms, n_rot = n_atoms + len(p), n_rot + e.shape[0]
    flat = apply_pose(torch.cat(pos), torch.cat(batch), torch.cat(edges), torch.cat(mt), torch.cat(ma),
                      trans, rots, torch.cat(deltas))
    assert torch.allclose(flat, torch.cat(singles), atol=1e-12)


def test_gradients_reach_every_input():
    """gradcheck on a 6-atom chain with 2 nested torsions, float64."""
    pos = torch.tensor([[0.0, 0, 0], [1.5, 0, 0], [2.0, 1.4, 0], [3.5, 1.5, 0.3], [4.1, 2.8, 0.2], [5.0, 3.0, 1.2]],
                       dtype=torch.float64)
    edges = torch.tensor([[1, 2], [3, 4]])
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[0, 2:] = True
    mask[1, 4:] = True
    mt, ma = mask_to_index(mask)
    tree = torsion_tree(edges, mt, ma, 6)
    assert tree.parent.tolist() == [-1, 0] and tree.depth.tolist() == [0, 1] and tree.max_depth == 1
    assert tree.owner.tolist() == [-1, -1, 0, 0, 1, 1]
    batch = torch.zeros(6, dtype=torch.long)

    def f(p, t, r, d):
        return apply_pose(p, batch, edges, mt, ma, t, r, d, tree)

    inputs = (pos.clone().requires_grad_(), torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64, requires_grad=True),
              torch.tensor([[0.4, 0.5, -0.6]], dtype=torch.float64, requires_grad=True),
              torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(f, inputs)
    out = f(*inputs).sum()
    assert all(g is not None and g.abs().sum() > 0 for g in torch.autograd.grad(out, inputs[3:]))


def test_tree_rejects_overlapping_sides():
    edges = torch.tensor([[1, 2], [3, 2]])  # both sides hold atom 2 without nesting
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    with pytest.raises(ValueError, match="not a rooted torsion tree"):
        torsion_tree(edges, *mask_to_index(mask), 5)
    bad_u = torch.tensor([[1, 1, 1, 0, 0]], dtype=torch.bool)  # side holds u = 0... and v = 1
    with pytest.raises(ValueError, match="not a rooted torsion tree"):
        torsion_tree(torch.tensor([[0, 1]]), *mask_to_index(bad_u), 5)


def test_kabsch_and_centroids():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(12, 3, generator=g, dtype=torch.float64)
    rot = random_rotation(1, generator=g)[0]
    y = x @ rot.T + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.allclose(kabsch_rotation(x, y), rot, atol=1e-10)
    assert torch.allclose(kabsch_rotation(x, x @ torch.diag(torch.tensor([1.0, 1, -1], dtype=torch.float64))).det(),
                          torch.tensor(1.0, dtype=torch.float64))
    batch = torch.tensor([0] * 5 + [1] * 7)
    assert torch.allclose(centroids(x, batch, 2), torch.stack([x[:5].mean(0), x[5:].mean(0)]))
