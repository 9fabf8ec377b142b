from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem

from sciffusion.domains.docking.conformers import embed_conformer, with_positions
from sciffusion.domains.docking.kinematics import dihedrals, kabsch_rotation
from sciffusion.domains.docking.ligand_inputs import stereo_labels
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.pose_generators import (
    CLASH_DISTANCE, CONTACT_WEIGHT, PoseGenerator, PoseSet, PreparedLigand, PreparedReceptor, RandomPoseGenerator,
    clash_confidence, pose_geometry_errors, poses_from_changes,
)
from sciffusion.domains.docking.protein import read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
# two stereocentres (threonine-like), an E double bond and 6 rotatable bonds
CHIRAL_SMILES = "C[C@@H](O)[C@H](NC(=O)/C=C/c1ccccc1)C(=O)OCC"


@pytest.fixture(scope="module")
def receptor():
    return PreparedReceptor.from_protein(read_protein(DATA / "6YQW_82I_pocket.pdb.gz"))


@pytest.fixture(scope="module")
def ligand():
    mol = embed_conformer(Chem.MolFromSmiles(CHIRAL_SMILES), seed=3)
    return PreparedLigand.from_mol("chiral", mol)


@pytest.fixture(scope="module")
def box(receptor):
    centre = receptor.atoms["pos"].double().mean(0)
    return Box(tuple(float(v) for v in centre), (8.0, 6.0, 10.0))


def _draw(receptor, ligand, box, seed, samples=12):
    rng = torch.Generator().manual_seed(seed)
    return RandomPoseGenerator().generate(receptor, [ligand, ligand], box, samples, rng)


def test_random_poses_keep_bonds_and_stereo_and_change_torsions(receptor, ligand, box):
    poses = _draw(receptor, ligand, box, seed=0)[0]
    assert poses.pos.shape == (12, ligand.num_atoms, 3)
    start = ligand.start_pos
    bonds = ligand.tensors["bond_index"]
    ref = (start[bonds[0]] - start[bonds[1]]).norm(dim=-1)
    for pos in (poses.pos, poses.pos.float()):  # float32 poses in the protein frame keep them too
        now = (pos[:, bonds[0]] - pos[:, bonds[1]]).double().norm(dim=-1)
        assert (now - ref).abs().max() < 1e-5
    assert pose_geometry_errors(ligand, poses.pos)["chirality_flips"] == 0
    want = stereo_labels(Chem.MolFromSmiles(CHIRAL_SMILES))
    assert len(want) == 2
    for pos in poses.pos:
        pose = with_positions(ligand.mol, pos)
        Chem.AssignStereochemistryFrom3D(pose)
        assert stereo_labels(pose) == want
    # the torsions really move: every rotatable bond's dihedral differs from the start in some pose
    quads = ligand.tensors["rot_dihedrals"]
    assert quads.shape[0] >= 5
    change = torch.stack([dihedrals(p, quads) for p in poses.pos]) - dihedrals(start, quads)
    assert (torch.cos(change) < 0.9).any(dim=0).all()


def test_centroids_fall_inside_the_box(receptor, ligand, box):
    for poses in _draw(receptor, ligand, box, seed=1, samples=32):
        centroids = poses.pos.mean(dim=1).numpy()
        assert box.contains(centroids).all()
        spread = centroids.std(axis=0)
        assert (spread > 0.15 * np.asarray(box.size)).all()  # spread over the box, not one point


def test_seeded_runs_repeat_and_seeds_differ(receptor, ligand, box):
    a, b, c = (_draw(receptor, ligand, box, seed) for seed in (5, 5, 6))
    for x, y in zip(a, b):
        assert torch.equal(x.pos, y.pos) and torch.equal(x.confidence, y.confidence)
    assert not torch.allclose(a[0].pos, c[0].pos)
    assert not torch.allclose(a[0].pos, a[1].pos)  # two ligands of one batch get their own draws


def test_rotations_are_uniform(receptor, box):
    """Haar rotations: the mean rotation matrix of many poses is ~0 (it would be I without rotation)."""
    adamantane = embed_conformer(Chem.MolFromSmiles("C1C2CC3CC1CC(C2)C3"), seed=0)  # rigid, not planar
    rigid = PreparedLigand.from_mol("adamantane", adamantane)
    assert rigid.tensors["rot_edges"].shape[0] == 0
    poses = RandomPoseGenerator().generate(receptor, [rigid], box, 400, torch.Generator().manual_seed(0))[0]
    rot = torch.stack([kabsch_rotation(rigid.start_pos, p) for p in poses.pos])
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(400, 3, 3), atol=1e-9)
    assert rot.mean(0).abs().max() < 0.12


def test_clash_confidence_closed_form():
    receptor = torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    pos = torch.tensor([
        [[1.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.5, 0.0, 0.0], [20.0, 0.0, 0.0]],  # 1 clash; 3 of 4 within 4 Å
        [[30.0, 0.0, 0.0], [31.0, 0.0, 0.0], [32.0, 0.0, 0.0], [33.0, 0.0, 0.0]],  # nothing near
        [[0.5, 0.0, 0.0], [9.0, 0.0, 0.0], [9.5, 0.0, 0.0], [10.0, 2.0, 0.0]],  # 4 clashes; all in contact
    ], dtype=torch.float64)
    out = clash_confidence(pos, receptor, chunk=2)
    assert out["clashes"].tolist() == [1.0, 0.0, 4.0]
    assert out["contact_fraction"].tolist() == [0.75, 0.0, 1.0]
    assert torch.allclose(out["confidence"], torch.tensor([-1 + 0.75 * CONTACT_WEIGHT, 0.0, -4 + CONTACT_WEIGHT],
                                                         dtype=torch.float64))
    assert CLASH_DISTANCE == 2.5


def test_confidence_matches_the_returned_poses(receptor, ligand, box):
    poses = _draw(receptor, ligand, box, seed=2)[0]
    again = clash_confidence(poses.pos, receptor.atoms["pos"])
    assert torch.allclose(poses.confidence, again["confidence"])
    assert torch.equal(poses.properties["clashes"], again["clashes"])


def test_poses_from_changes_convention(ligand):
    k, m = 3, ligand.tensors["rot_edges"].shape[0]
    zero = poses_from_changes(ligand, torch.zeros(k, 3, dtype=torch.float64), torch.zeros(k, 3, dtype=torch.float64),
                              torch.zeros(k, m, dtype=torch.float64))
    assert torch.allclose(zero, ligand.start_pos.expand(k, -1, -1), atol=1e-12)
    shift = torch.tensor([[1.0, 2.0, 3.0]] * k, dtype=torch.float64)
    rot = torch.tensor([[0.0, 0.0, math.pi / 2]] * k, dtype=torch.float64)
    moved = poses_from_changes(ligand, shift, rot, torch.zeros(k, m, dtype=torch.float64))
    assert torch.allclose(moved.mean(1), ligand.start_pos.mean(0) + shift, atol=1e-9)
    with pytest.raises(ValueError, match="delta"):
        poses_from_changes(ligand, shift, rot, torch.zeros(k, m + 1, dtype=torch.float64))


def test_pose_set_checks_and_ranking():
    pos = torch.zeros(3, 4, 3)
    with pytest.raises(ValueError, match="confidence must be"):
        PoseSet(pos, torch.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        PoseSet(pos, torch.tensor([0.0, math.nan, 1.0]))
    with pytest.raises(ValueError, match="property 'x'"):
        PoseSet(pos, torch.zeros(3), {"x": torch.zeros(4)})
    ranked = PoseSet(torch.arange(3.0)[:, None, None].expand(3, 4, 3), torch.tensor([0.5, 2.0, -1.0]),
                     {"x": torch.tensor([10.0, 20.0, 30.0])}).ranked()
    assert ranked.confidence.tolist() == [2.0, 0.5, -1.0] and ranked.properties["x"].tolist() == [20.0, 10.0, 30.0]
    assert ranked.pos[:, 0, 0].tolist() == [1.0, 0.0, 2.0]


def test_geometry_check_catches_a_mirror_image(ligand):
    mirrored = ligand.start_pos.clone()[None]
    mirrored[..., 0] *= -1  # bond lengths kept, every stereocentre inverted
    errors = pose_geometry_errors(ligand, mirrored)
    assert errors["bond_length"] < 1e-9 and errors["chirality_flips"] == 2
    stretched = ligand.start_pos.clone()[None] * 1.01
    assert pose_geometry_errors(ligand, stretched)["bond_length"] > 1e-3


def test_interface_and_receptor_tensors(receptor, ligand, box):
    assert isinstance(RandomPoseGenerator(), PoseGenerator)
    assert RandomPoseGenerator().describe()["uses_steps"] is False
    from sciffusion.domains.docking.graphs import build_graph

    graph = build_graph(receptor.complex_tensors(ligand, box))
    assert graph["ligand"].pos.shape == (ligand.num_atoms, 3) and graph["atom"].pos.shape[0] == receptor.atoms["pos"].shape[0]
    with pytest.raises(ValueError, match="samples"):
        RandomPoseGenerator().generate(receptor, [ligand], box, 0, torch.Generator())


def _multi_conformer_ligand(count: int = 3) -> PreparedLigand:
    mol = embed_conformer(Chem.MolFromSmiles(CHIRAL_SMILES), seed=3)
    for seed in range(4, 3 + count):
        mol.AddConformer(Chem.Conformer(embed_conformer(mol, seed=seed).GetConformer()), assignId=True)
    return PreparedLigand.from_mol("multi", mol)


def test_poses_start_from_their_own_conformer():
    ligand = _multi_conformer_ligand(3)
    assert ligand.num_conformers == 3 and ligand.sample_conformers(7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    starts = ligand.start_positions
    assert starts.shape == (3, ligand.num_atoms, 3) and (starts[1] - starts[0]).abs().max() > 0.1
    k, m = 5, int(ligand.tensors["rot_edges"].shape[0])
    conformer = ligand.sample_conformers(k)
    zero = torch.zeros(k, 3, dtype=torch.float64)
    pos = poses_from_changes(ligand, zero, zero, torch.zeros(k, m, dtype=torch.float64), conformer)
    assert torch.allclose(pos, starts[conformer], atol=1e-12)
    shift = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64).expand(k, 3)
    rot = torch.randn(k, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    delta = torch.rand(k, m, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    moved = poses_from_changes(ligand, shift, rot, delta, conformer)
    errors = pose_geometry_errors(ligand, moved, conformer)
    assert errors["bond_length"] < 1e-9 and errors["chirality_flips"] == 0
    # negative control: checked against conformer 0 the other conformers' bonds differ
    assert pose_geometry_errors(ligand, moved)["bond_length"] > 1e-4


def test_random_control_spreads_samples_over_the_conformers(receptor, box):
    ligand = _multi_conformer_ligand(2)
    (poses,) = RandomPoseGenerator().generate(receptor, [ligand], box, 6, torch.Generator().manual_seed(0))
    assert poses.conformers().tolist() == [0, 1, 0, 1, 0, 1]
    assert pose_geometry_errors(ligand, poses.pos, poses.conformer)["bond_length"] < 1e-9
    ranked = poses.ranked()
    order = torch.sort(poses.confidence, descending=True, stable=True).indices
    assert torch.equal(ranked.conformer, poses.conformer[order])
    with pytest.raises(ValueError, match="conformer must be a long tensor"):
        PoseSet(poses.pos, poses.confidence, conformer=torch.zeros(5, dtype=torch.long))


def test_receptor_without_amino_acids_is_a_one_line_error(tmp_path):
    """A nucleic-acid-only receptor (as 4YB0 of the training set) is refused naming the file."""
    pdb = tmp_path / "rna.pdb"
    pdb.write_text("".join(
        f"ATOM  {i + 1:5d}  {name:<3s}   A A   1    {x:8.3f}{0.0:8.3f}{0.0:8.3f}  1.00  0.00           {el}\n"
        for i, (name, x, el) in enumerate([("P", 0.0, "P"), ("C4'", 1.5, "C"), ("N1", 3.0, "N")])) + "END\n")
    with pytest.raises(ValueError, match=r"rna.pdb: no amino-acid residues with N, CA and C atoms"):
        PreparedReceptor.from_protein(read_protein(pdb))
