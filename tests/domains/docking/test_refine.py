from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciffusion.domains.docking.conformers import strip_hydrogens
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.pose_generators import PreparedLigand, pose_geometry_errors, poses_from_changes
from sciffusion.domains.docking.protein import read_protein
from sciffusion.domains.docking.refine import RefineConfig, refine_poses, vina_energy_fn
from sciffusion.domains.docking.vina_grid import VinaGrid
from sciffusion.domains.docking.vina_score import intramolecular_pairs
from sciffusion.domains.docking.vina_types import ligand_types, receptor_types

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def setup(cid: str):
    protein = read_protein(DATA / f"{cid}_pocket.pdb.gz")
    mol = strip_hydrogens(read_ligand(DATA / f"{cid}_ligand.sdf").mol)
    ligand = PreparedLigand.from_mol(cid, mol)
    lt = ligand_types(mol)
    box = Box.around(ligand.start_pos.numpy(), 4.0)
    grid = VinaGrid.build(torch.tensor(protein.atom_pos, dtype=torch.float64), receptor_types(protein),
                          box.center, box.size, spacing=0.5, types=lt)
    return ligand, vina_energy_fn(grid, lt, intramolecular_pairs(mol, ligand.tensors["rot_mask"]))


def rmsd(pos, ref):
    return ((pos - ref) ** 2).sum(-1).mean(-1).sqrt()


@pytest.mark.parametrize("cid", ["6YQW_82I", "6XG5_TOP"])
def test_perturbed_crystal_pose_refines_back_with_geometry_unchanged(cid):
    ligand, energy = setup(cid)
    gen = torch.Generator().manual_seed(0)
    k, m = 4, ligand.tensors["rot_edges"].shape[0]
    t = torch.randn(k, 3, generator=gen, dtype=torch.float64)
    t = t / t.norm(dim=1, keepdim=True)  # 1 Å shifts
    pos = poses_from_changes(ligand, t, 0.15 * torch.randn(k, 3, generator=gen, dtype=torch.float64),
                             0.3 * torch.randn(k, m, generator=gen, dtype=torch.float64))
    out = refine_poses(ligand, pos, energy, RefineConfig(steps=150))
    crystal = ligand.start_pos
    assert (rmsd(out.pos, crystal) < 0.7 * rmsd(pos, crystal)).all()
    assert (out.energy_after < out.energy_before).all() and out.improved.all()
    assert torch.allclose(energy(out.pos), out.energy_after, atol=1e-8)
    errors = pose_geometry_errors(ligand, out.pos)
    assert errors["bond_length"] < 1e-8 and errors["chirality_flips"] == 0


def test_pose_that_cannot_improve_keeps_its_input():
    ligand, _ = setup("6YQW_82I")
    pos = ligand.start_pos[None].repeat(2, 1, 1)
    out = refine_poses(ligand, pos, lambda p: ((p - pos) ** 2).sum(dim=(1, 2)), RefineConfig(steps=5))
    assert torch.equal(out.pos, pos) and not out.improved.any()


def test_bad_inputs_are_one_line_errors():
    ligand, energy = setup("6YQW_82I")
    with pytest.raises(ValueError, match=r"6YQW_82I: poses must be \[K, 11, 3\]"):
        refine_poses(ligand, ligand.start_pos, energy)
    with pytest.raises(ValueError, match="refine steps: must be in 1..1000"):
        RefineConfig(steps=0)
    with pytest.raises(ValueError, match="refine lr_rotation: must be a number > 0"):
        RefineConfig(lr_rotation=float("nan"))
