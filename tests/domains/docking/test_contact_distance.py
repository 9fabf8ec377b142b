"""PoseBusters' minimum-distance criterion in torch: agrees with PoseBusters itself; the penalty is zero
above the target, positive below it, and its gradient pushes the ligand out; physics ranks clashes last."""
from pathlib import Path

import pytest
import torch

from sciffusion.domains.docking.conformers import strip_hydrogens, with_positions
from sciffusion.domains.docking.contact_distance import (
    PB_CLASH_CUTOFF, contact_penalty_fn, element_radii, min_distance_ratio, pair_radii,
)
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.physics import PhysicsRanked, _receptor_near
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.pose_generators import PoseSet, PreparedLigand, PreparedReceptor
from sciffusion.domains.docking.pose_metrics import posebusters_checks
from sciffusion.domains.docking.protein import read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


@pytest.fixture(scope="module")
def complex_6yqw():
    receptor = PreparedReceptor.from_protein(read_protein(DATA / "6YQW_82I_pocket.pdb.gz"))
    mol = strip_hydrogens(read_ligand(DATA / "6YQW_82I_ligand.sdf").mol)
    return receptor, PreparedLigand.from_mol("6YQW_82I", mol), mol


def _near(receptor, ligand, pos):
    rec_pos, symbols = _receptor_near(receptor, pos, 6.0)
    return rec_pos, pair_radii([a.GetSymbol() for a in ligand.mol.GetAtoms()], symbols)


def test_radii_are_rdkit_vdw_and_covalent_for_metal_pairs():
    r = element_radii(["C", "O", "ZN", "Cl"])
    assert r[0] == pytest.approx(1.7) and r[1] == pytest.approx(1.55) and r[3] == pytest.approx(1.8)
    pairs = pair_radii(["O"], ["C", "ZN"])
    assert pairs[0, 0] == pytest.approx(1.55 + 1.7)
    cov = element_radii(["O", "ZN"], "covalent")
    assert pairs[0, 1] == pytest.approx(float(cov.sum())) and pairs[0, 1] < 2.5  # Zn-O 2.0 Å coordination passes


def test_ratio_agrees_with_posebusters_on_crystal_and_pushed_in_poses(complex_6yqw, tmp_path):
    receptor, ligand, mol = complex_6yqw
    crystal = ligand.start_pos.to(torch.float64)
    rec_pos, radii = _near(receptor, ligand, crystal[None])
    nearest = rec_pos[torch.cdist(crystal, rec_pos).min(dim=0).values.argmin()]
    direction = (nearest - crystal.mean(0)) / (nearest - crystal.mean(0)).norm()
    poses = torch.stack([crystal + direction * s for s in (0.0, 0.6, 1.2, 2.0)])
    ratio = min_distance_ratio(poses, rec_pos, radii)
    assert ratio[0] > PB_CLASH_CUTOFF and ratio[-1] < PB_CLASH_CUTOFF and (ratio.diff() < 0).all()
    import gzip, shutil
    pdb = tmp_path / "pocket.pdb"
    with gzip.open(DATA / "6YQW_82I_pocket.pdb.gz", "rb") as src, open(pdb, "wb") as dst:
        shutil.copyfileobj(src, dst)
    checks = posebusters_checks([with_positions(mol, p.numpy()) for p in poses], None, pdb)
    pb_clash = ["minimum_distance_to_protein" in failed for _, failed in checks]
    assert pb_clash == [bool(r < PB_CLASH_CUTOFF) for r in ratio], (ratio, checks)


def test_penalty_zero_above_target_and_gradient_pushes_out(complex_6yqw):
    receptor, ligand, _ = complex_6yqw
    crystal = ligand.start_pos.to(torch.float64)
    rec_pos, radii = _near(receptor, ligand, crystal[None])
    penalty = contact_penalty_fn(rec_pos, radii, target=0.5)
    assert float(penalty(crystal[None])[0]) == 0.0  # the crystal keeps 0.5 x the radii sum everywhere
    nearest = rec_pos[torch.cdist(crystal, rec_pos).min(dim=0).values.argmin()]
    pushed = (crystal + (nearest - crystal.mean(0)) * 0.5)[None].clone().requires_grad_(True)
    value = penalty(pushed)
    assert float(value.detach()[0]) > 0
    value.sum().backward()
    step = pushed.detach() - 1e-3 * pushed.grad
    assert float(penalty(step)[0]) < float(value.detach()[0])


def test_physics_ranks_a_clashing_pose_last(complex_6yqw):
    receptor, ligand, _ = complex_6yqw
    crystal = ligand.start_pos.to(torch.float64)
    rec_pos, _ = _receptor_near(receptor, crystal[None], 6.0)
    nearest = rec_pos[torch.cdist(crystal, rec_pos).min(dim=0).values.argmin()]
    clash = crystal + (nearest - crystal.mean(0)) * 0.6

    class Fixed:
        name = "fixed"

        def generate(self, receptor, ligands, pocket, samples, generator):
            # the clashing pose has the best confidence
            return [PoseSet(pos=torch.stack([clash, crystal]), confidence=torch.tensor([5.0, 0.0]), properties={})]

    box = Box.around(crystal.numpy(), 6.0)
    (out,) = PhysicsRanked(Fixed(), refine_steps=0, rank_by="confidence", contact_penalty=True).generate(
        receptor, [ligand], box, 2, torch.Generator().manual_seed(0))
    assert out.properties["min_distance_ratio"][0] < PB_CLASH_CUTOFF < out.properties["min_distance_ratio"][1]
    assert out.confidence[1] > out.confidence[0]


def test_without_the_contact_penalty_clashing_poses_keep_their_rank(complex_6yqw):
    receptor, ligand, _ = complex_6yqw
    crystal = ligand.start_pos.to(torch.float64)
    rec_pos, _ = _receptor_near(receptor, crystal[None], 6.0)
    nearest = rec_pos[torch.cdist(crystal, rec_pos).min(dim=0).values.argmin()]
    clash = crystal + (nearest - crystal.mean(0)) * 0.6

    class Fixed:
        name = "fixed"

        def generate(self, receptor, ligands, pocket, samples, generator):
            return [PoseSet(pos=torch.stack([clash, crystal]), confidence=torch.tensor([5.0, 0.0]), properties={})]

    (out,) = PhysicsRanked(Fixed(), rank_by="confidence", contact_penalty=False).generate(
        receptor, [ligand], Box.around(crystal.numpy(), 6.0), 2, torch.Generator().manual_seed(0))
    assert out.confidence[0] > out.confidence[1]  # the negative control of test_physics_ranks_a_clashing_pose_last
