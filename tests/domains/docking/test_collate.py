from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch, HeteroData

from sciffusion.common.manifolds.so3 import random_rotation
from sciffusion.domains.docking.collate import collate_complexes, ligand_torsion_tree, move_ligands
from sciffusion.domains.docking.graphs import build_graph, complex_tensors
from sciffusion.domains.docking.kinematics import apply_torsion_updates
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.pockets import ligand_pocket_from_mol, resolve_pocket
from sciffusion.domains.docking.protein import read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
SHARED = Path("/work/shared/data/docking/train_pdb_ccd")
COMPLEXES = [(DATA, "6XG5_TOP"), (DATA, "6YQW_82I")] + ([(SHARED, "1M17_AQ4")] if SHARED.is_dir() else [])


@pytest.fixture(scope="module")
def graphs():
    out = []
    for folder, cid in COMPLEXES:
        protein = read_protein(folder / f"{cid}_pocket.pdb.gz")
        mol = read_ligand(folder / f"{cid}_ligand.sdf").mol
        tensors = complex_tensors(protein, mol, resolve_pocket(ligand_pocket_from_mol(mol), protein))
        graph = build_graph(tensors)
        graph["ligand"].pos = graph["ligand"].pos.double()
        out.append((tensors, graph))
    return out


def test_batch_shifts_torsion_indices(graphs):
    batch = collate_complexes([g for _, g in graphs])
    sizes = [g["ligand"].num_nodes for _, g in graphs]
    n_rot = [g["ligand"].rot_edges.shape[0] for _, g in graphs]
    assert batch["ligand"].rot_edges.shape == (sum(n_rot), 2) and batch.num_graphs == len(graphs)
    offsets = torch.tensor([0] + sizes).cumsum(0)
    rot_offsets = torch.tensor([0] + n_rot).cumsum(0)
    for i, (_, g) in enumerate(graphs):
        lo, hi = rot_offsets[i], rot_offsets[i + 1]
        assert torch.equal(batch["ligand"].rot_edges[lo:hi], g["ligand"].rot_edges + offsets[i])
        owner = batch["ligand"].batch[batch["ligand"].rot_mask_atom]
        assert torch.equal(owner, batch["ligand"].batch[batch["ligand"].rot_edges[batch["ligand"].rot_mask_torsion, 0]])
    assert batch.pocket_center.shape == (len(graphs), 3)
    # negative control: a plain HeteroData batch leaves rot_edges unshifted
    plain = []
    for _, g in graphs[:2]:
        h = HeteroData()
        h["ligand"].pos, h["ligand"].rot_edges = g["ligand"].pos, g["ligand"].rot_edges
        plain.append(h)
    assert torch.equal(Batch.from_data_list(plain)["ligand"].rot_edges[n_rot[0]:], graphs[1][1]["ligand"].rot_edges)
    with pytest.raises(ValueError, match="expected a ComplexGraph"):
        collate_complexes(plain)


def test_batched_kinematics_equal_unbatched(graphs):
    g = torch.Generator().manual_seed(0)
    b = len(graphs)
    trans = torch.randn(b, 3, generator=g, dtype=torch.float64)
    rots = random_rotation(b, generator=g)
    deltas = [torch.randn(gr["ligand"].rot_edges.shape[0], generator=g, dtype=torch.float64) for _, gr in graphs]
    singles = [move_ligands(gr, trans[i:i + 1], rots[i:i + 1], deltas[i]) for i, (_, gr) in enumerate(graphs)]
    batch = collate_complexes([gr for _, gr in graphs])
    tree = ligand_torsion_tree(batch)
    flat = move_ligands(batch, trans, rots, torch.cat(deltas), tree=tree)
    assert torch.allclose(flat, torch.cat(singles), atol=1e-10)
    # and the single-graph path equals the dense single-ligand torsion update of the cache tensors
    tensors, graph = graphs[0]
    dense = apply_torsion_updates(graph["ligand"].pos, tensors["ligand"]["rot_edges"], tensors["ligand"]["rot_mask"],
                                  deltas[0])
    zero = torch.zeros(1, 3, dtype=torch.float64)
    assert torch.allclose(move_ligands(graph, zero, zero, deltas[0]), dense, atol=1e-12)


def test_conformer_change_on_batched_graphs_reproduces_crystal(graphs):
    from sciffusion.domains.docking.conformers import conformer_targets, strip_hydrogens

    built = []
    for folder, cid in COMPLEXES[:2]:
        mol = strip_hydrogens(read_ligand(folder / f"{cid}_ligand.sdf").mol)
        tensors = dict(graphs[len(built)][0], conformers=conformer_targets(mol, count=2, seed=0))
        built.append((tensors, build_graph(tensors, conformer=1)))
    batch = collate_complexes([g for _, g in built])
    assert batch.conformer_rotation.shape == (2, 3, 3) and batch.conformer_translation.shape == (2, 3)
    lig = batch["ligand"]
    moved = move_ligands(batch, batch.conformer_translation.double(), batch.conformer_rotation.double(),
                         lig.rot_conformer_delta.double(), pos=lig.conformer_pos.double())
    for i, (tensors, _) in enumerate(built):
        part = moved[lig.batch == i]
        rmsd = ((part - tensors["ligand"]["pos"].double()) ** 2).sum(-1).mean().sqrt()
        assert abs(float(rmsd) - float(tensors["conformers"]["rmsd_matched"][1])) < 1e-3
    with pytest.raises(ValueError, match="conformer: index 2 out of range"):
        build_graph(built[0][0], conformer=2)
