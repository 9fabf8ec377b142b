from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rdkit import Chem

from sciffusion.domains.docking.conformers import conformer_targets, strip_hydrogens, with_positions
from sciffusion.domains.docking.kinematics import apply_pose, mask_to_index
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.torsions import rotatable_bonds

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
SHARED = Path("/work/shared/data/docking/train_pdbbind2020_subset")


def _rmsd(a, b):
    return float(((a - b) ** 2).sum(-1).mean().sqrt())


def _replay(mol, targets, k):
    """The stored change applied to conformer k with the kinematics (float64), as training would."""
    edges, mask = rotatable_bonds(mol)
    pos = targets["pos"][k].double()
    return apply_pose(pos, torch.zeros(len(pos), dtype=torch.long), edges, *mask_to_index(mask),
                      targets["translation"][k:k + 1].double(), targets["rotation"][k:k + 1].double(),
                      targets["torsion_delta"][k].double())


def test_stored_change_takes_conformer_onto_crystal():
    mol = strip_hydrogens(read_ligand(DATA / "6XG5_TOP_ligand.sdf").mol)
    crystal = torch.tensor(mol.GetConformer().GetPositions())
    targets = conformer_targets(mol, count=3, seed=0)
    assert targets["pos"].shape == (3, mol.GetNumAtoms(), 3) and targets["torsion_delta"].shape == (3, 5)
    assert targets["seed"].tolist() == [1, 2, 3] and all(t.dtype in (torch.float32, torch.int64) for t in targets.values())
    for k in range(3):
        replayed = _replay(mol, targets, k)
        assert abs(_rmsd(replayed, crystal) - float(targets["rmsd_matched"][k])) < 1e-3
        assert _rmsd(targets["pos"][k].double(), crystal) > 1.0  # the conformer itself is not the crystal pose
        assert targets["rmsd_matched"][k] < 0.5 * targets["rmsd_rigid"][k]
        assert torch.allclose(targets["rotation"][k] @ targets["rotation"][k].T, torch.eye(3), atol=1e-5)
        assert (targets["torsion_delta"][k].abs() <= torch.pi + 1e-6).all()
    assert not torch.allclose(targets["pos"][0], targets["pos"][1])  # distinct seeds, distinct conformers
    again = conformer_targets(mol, count=1, seed=1)
    assert torch.equal(again["pos"][0], targets["pos"][1])  # seeded: same seed, same conformer


def test_conformers_keep_the_input_stereochemistry():
    mol = strip_hydrogens(read_ligand(DATA / "6YQW_82I_ligand.sdf").mol)
    targets = conformer_targets(mol, count=2, seed=4, refine_steps=0)
    want = Chem.MolToSmiles(mol)
    for k in range(2):
        conf = with_positions(mol, targets["pos"][k])
        Chem.AssignStereochemistryFrom3D(conf)
        assert Chem.MolToSmiles(conf) == want


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared docking data not present")
def test_torsion_matching_beats_rigid_alignment_on_real_ligands():
    """Torsion-aligned + rigid-aligned RMSD well below the raw (rigid-only) conformer RMSD, and the
    refinement never worse than dihedral matching alone."""
    rigid, matched = [], []
    for cid in ("1ATL", "1D3D", "1BZY"):
        mol = strip_hydrogens(read_ligand(SHARED / f"{cid}_ligand.sdf").mol)
        plain = conformer_targets(mol, count=2, seed=0, refine_steps=0)
        refined = conformer_targets(mol, count=2, seed=0)
        assert (refined["rmsd_matched"] <= plain["rmsd_matched"] + 1e-5).all()
        rigid.append(refined["rmsd_rigid"]), matched.append(refined["rmsd_matched"])
    rigid, matched = torch.cat(rigid), torch.cat(matched)
    assert (matched < rigid).all() and matched.mean() < 0.5 * rigid.mean()


def test_count_must_be_positive():
    mol = strip_hydrogens(read_ligand(DATA / "6YQW_82I_ligand.sdf").mol)
    with pytest.raises(ValueError, match="count"):
        conformer_targets(mol, count=0)
