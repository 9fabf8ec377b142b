from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciffusion.domains.docking.conformers import add_hydrogens, embed_conformer, strip_hydrogens
from sciffusion.domains.docking.features import LIGAND_ATOM_CARDINALITY, ligand_atom_features
from sciffusion.domains.docking.graphs import GraphConfig, build_graph, complex_tensors
from sciffusion.domains.docking.ligand_io import read_ligand, smiles_record
from sciffusion.domains.docking.pockets import ligand_pocket_from_mol, resolve_pocket
from sciffusion.domains.docking.protein import read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


@pytest.fixture(scope="module")
def tensors():
    protein = read_protein(DATA / "6XG5_TOP_pocket.pdb.gz")
    mol = read_ligand(DATA / "6XG5_TOP_ligand.sdf").mol
    return complex_tensors(protein, mol, resolve_pocket(ligand_pocket_from_mol(mol), protein), include_atoms=True)


def test_graph_edges_respect_cutoffs(tensors):
    cfg = GraphConfig(max_neighbors=None)
    g = build_graph(tensors, cfg)
    lig, rec = g["ligand"].pos, g["receptor"].pos
    src, dst = g["ligand", "radius", "receptor"].edge_index
    dist = (lig[src] - rec[dst]).norm(dim=1)
    assert (dist <= cfg.cross_cutoff).all()
    n_expected = int((torch.cdist(lig, rec) <= cfg.cross_cutoff).sum())
    assert src.numel() == n_expected > 0
    assert torch.equal(g["receptor", "radius", "ligand"].edge_index, g["ligand", "radius", "receptor"].edge_index.flip(0))
    rr = g["receptor", "radius", "receptor"].edge_index
    assert (rr[0] != rr[1]).all()
    assert g["ligand", "bond", "ligand"].edge_index.shape[1] == 2 * 22  # trimethoprim: 22 bonds
    assert g["atom"].pos.shape[0] == tensors["atoms"]["pos"].shape[0]
    assert g["ligand"].rot_edges.shape == (5, 2)
    assert g["receptor"].side_chain_vecs.shape == (g["receptor"].pos.shape[0], 3, 3)


def test_side_chain_vectors_have_backbone_lengths(tensors):
    vecs = tensors["receptor"]["side_chain_vecs"]
    assert torch.allclose(vecs[:, 0].norm(dim=1), torch.tensor(1.46), atol=0.1)  # N-CA
    assert torch.allclose(vecs[:, 1].norm(dim=1), torch.tensor(1.52), atol=0.1)  # CA-C
    assert torch.allclose(vecs[:, 2].norm(dim=1), torch.tensor(1.53), atol=0.15)  # CA-CB (ideal for Gly)


def test_atom_features_in_range_and_chirality():
    mol = smiles_record("C[C@H](N)C(=O)[O-]").mol
    x = ligand_atom_features(mol)
    assert x.shape == (6, 7)
    assert (x < torch.tensor(LIGAND_ATOM_CARDINALITY)).all() and (x >= 0).all()
    assert x[1, 6] != x[0, 6]  # chiral centre differs from CH3
    assert x[5, 2] != x[4, 2]  # formal charge -1 vs 0


def test_hydrogens_removed_for_model_and_added_back_with_coordinates():
    mol = embed_conformer(smiles_record("CCO").mol, seed=7)
    assert all(a.GetAtomicNum() > 1 for a in mol.GetAtoms())
    with_h = add_hydrogens(mol)
    assert with_h.GetNumAtoms() == 9
    pos = with_h.GetConformer().GetPositions()
    assert (abs(pos).sum(1) > 0).all()
    assert strip_hydrogens(with_h).GetNumAtoms() == 3


def test_seeded_etkdg_is_reproducible():
    mol = smiles_record("CC(=O)Nc1ccc(O)cc1").mol
    a = embed_conformer(mol, seed=11).GetConformer().GetPositions()
    b = embed_conformer(mol, seed=11).GetConformer().GetPositions()
    c = embed_conformer(mol, seed=12).GetConformer().GetPositions()
    assert (a == b).all() and not (a == c).all()


def test_graph_config_validation():
    with pytest.raises(ValueError, match="cross_cutoff"):
        GraphConfig(cross_cutoff=0)
