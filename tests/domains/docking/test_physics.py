"""Physics on pose generators (domains/docking/physics.py, pose_energy.py): refinement keeps bonds and
stereo and lowers the Vina-like score; rankings; the physics control against random poses on the
bundled complex; guidance of the diffusion sampler (scale 0 = unguided bit for bit)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciffusion.domains.docking.conformers import strip_hydrogens
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.contact_distance import PB_CLASH_CUTOFF
from sciffusion.domains.docking.physics import CLASH_DEMOTION, PhysicsRanked, physics_control, rank_confidence
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.pose_energy import LigandVina, ReceptorGrids, pose_objective_fn
from sciffusion.domains.docking.pose_generators import (
    PreparedLigand, PreparedReceptor, RandomPoseGenerator, pose_geometry_errors,
)
from sciffusion.domains.docking.protein import read_protein
from sciffusion.domains.docking.vina_grid import VinaGrid
from sciffusion.domains.docking.vina_score import vina_score

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


@pytest.fixture(scope="module")
def complex_6yqw():
    receptor = PreparedReceptor.from_protein(read_protein(DATA / "6YQW_82I_pocket.pdb.gz"))
    crystal = PreparedLigand.from_mol("6YQW_82I", strip_hydrogens(read_ligand(DATA / "6YQW_82I_ligand.sdf").mol))
    box = Box.around(crystal.start_pos.numpy(), 4.0)
    return receptor, crystal, box, ReceptorGrids()


def rmsd(pos, ref):
    return ((pos - ref) ** 2).sum(-1).mean(-1).sqrt()


def test_per_type_grids_match_one_grid_and_are_built_once(complex_6yqw):
    receptor, ligand, box, grids = complex_6yqw
    vina = LigandVina.of(ligand)
    box_grids = grids.for_box(receptor, box)
    assert grids.for_box(PreparedReceptor(receptor.residues, receptor.atoms, receptor.vina_types), box) is box_grids
    pos = RandomPoseGenerator().generate(receptor, [ligand], box, 4, torch.Generator().manual_seed(0))[0].pos
    one = VinaGrid.build(receptor.atoms["pos"].double(), receptor.vina_types, box.center, box.size, spacing=0.375,
                         types=vina.types)
    assert torch.allclose(box_grids.energy(pos, vina.types), one.energy(pos, vina.types), atol=1e-9)
    n_parts = len(box_grids.parts)
    box_grids.energy(pos, vina.types)
    assert len(box_grids.parts) == n_parts


def test_refined_random_poses_keep_geometry_and_lower_the_score(complex_6yqw):
    receptor, ligand, box, grids = complex_6yqw
    gen = PhysicsRanked(RandomPoseGenerator(), refine_steps=60, rank_by="vina", grids=grids, contact_penalty=True)
    poses = gen.generate(receptor, [ligand], box, 6, torch.Generator().manual_seed(1))[0]
    errors = pose_geometry_errors(ligand, poses.pos, poses.conformer)
    assert errors["bond_length"] < 1e-8 and errors["chirality_flips"] == 0
    objective = poses.properties["vina_inter"] + poses.properties["vina_intra"]
    assert (objective <= poses.properties["energy_before_refine"]).all()
    assert float(objective.mean()) < float(poses.properties["energy_before_refine"].mean()) - 5
    clashing = poses.properties["min_distance_ratio"] < PB_CLASH_CUTOFF
    assert torch.equal(poses.confidence, -poses.properties["vina_score"] - CLASH_DEMOTION * clashing.double())
    ranked = poses.ranked().properties
    passing = ranked["vina_score"][ranked["min_distance_ratio"] >= PB_CLASH_CUTOFF]
    assert torch.equal(passing, torch.sort(passing).values)  # passing poses first, by the Vina-like score
    unrefined = PhysicsRanked(RandomPoseGenerator(), rank_by="vina", grids=grids).generate(
        receptor, [ligand], box, 6, torch.Generator().manual_seed(1))[0]
    assert torch.allclose(unrefined.properties["energy_before_refine"], poses.properties["energy_before_refine"])
    assert torch.allclose(unrefined.properties["vina_inter"] + unrefined.properties["vina_intra"],
                          unrefined.properties["energy_before_refine"])


def test_vina_score_property_is_vinas_normalised_affinity(complex_6yqw):
    receptor, ligand, box, grids = complex_6yqw
    vina = LigandVina.of(ligand)
    pos = ligand.start_pos[None]
    direct = vina_score(pos, vina.types, vina.pairs, vina.rotors, receptor_pos=receptor.atoms["pos"].double(),
                        receptor_types=receptor.vina_types)
    from sciffusion.domains.docking.pose_energy import score_poses

    ours = score_poses(grids.for_box(receptor, box), vina, pos)
    assert abs(float(ours["vina_score"] - direct["total_normalised"])) < 0.05  # grid vs direct
    assert float(ours["vina_score"]) < -4  # the crystal pose binds


def test_rankings():
    conf = torch.tensor([3.0, 2.0, 1.0, 0.0])
    vina = torch.tensor([-1.0, -9.0, -5.0, -2.0])
    assert torch.equal(rank_confidence(conf, vina, "confidence"), conf)
    assert torch.sort(rank_confidence(conf, vina, "vina"), descending=True).indices.tolist() == [1, 2, 3, 0]
    # Borda: positions conf (0, 1, 2, 3), vina (3, 0, 1, 2): sums 3, 1, 3, 5; tie 0/2 goes to the lower vina (2)
    assert torch.sort(rank_confidence(conf, vina, "combined"), descending=True).indices.tolist() == [1, 2, 0, 3]
    with pytest.raises(ValueError, match="--rank-by: must be one of"):
        PhysicsRanked(RandomPoseGenerator(), rank_by="energy")


def test_physics_control_beats_random_on_its_energy_and_finds_the_pocket_pose(complex_6yqw):
    receptor, ligand, box, grids = complex_6yqw
    rng = torch.Generator().manual_seed(0)
    physics = physics_control(refine_steps=60, grids=grids).generate(receptor, [ligand], box, 8, rng)[0].ranked()
    random = PhysicsRanked(RandomPoseGenerator(), rank_by="vina", grids=grids).generate(
        receptor, [ligand], box, 8, torch.Generator().manual_seed(0))[0].ranked()
    assert float(physics.properties["vina_score"][0]) < float(random.properties["vina_score"][0]) - 2
    best = min(float(rmsd(run.pos, ligand.start_pos).min()) for run in [physics] + [
        physics_control(refine_steps=60, grids=grids).generate(receptor, [ligand], box, 8,
                                                               torch.Generator().manual_seed(s))[0] for s in (1, 2)])
    assert best < 3.0, best  # the crystal conformer itself as the start: some pose of 3 runs lands near the crystal
    errors = pose_geometry_errors(ligand, physics.pos, physics.conformer)
    assert errors["bond_length"] < 1e-8 and errors["chirality_flips"] == 0


TINY_MODEL = dict(scalar_channels=4, vector_channels=2, sigma_frequencies=2, distance_embed_dim=4, max_neighbors=8)


def test_guidance_scale_zero_is_unguided_and_guidance_lowers_the_energy(complex_6yqw):
    from sciffusion.domains.docking.pose_dataset import PoseDataConfig
    from sciffusion.domains.docking.pose_diffusion import default_pose_process
    from sciffusion.domains.docking.pose_generators import DiffusionPoseGenerator
    from sciffusion.domains.docking.score_model import DockingScoreModel, ScoreModelConfig

    receptor, ligand, box, grids = complex_6yqw
    torch.manual_seed(0)
    model = DockingScoreModel(ScoreModelConfig(**TINY_MODEL))
    process, data = default_pose_process(torsions=False), PoseDataConfig(receptor_radius=15.0)
    runs = {}
    for scale in (None, 0.0, 2.0):
        kw = {} if scale is None else {"guidance_scale": scale, "grids": grids}
        gen = DiffusionPoseGenerator(model, process, data, sampler="euler_maruyama", steps=8, **kw)
        runs[scale] = gen.generate(receptor, [ligand], box, 6, torch.Generator().manual_seed(3))[0]
    assert torch.equal(runs[None].pos, runs[0.0].pos)
    objective = pose_objective_fn(grids.for_box(receptor, box), LigandVina.of(ligand))
    with torch.no_grad():
        plain, guided = objective(runs[0.0].pos).median(), objective(runs[2.0].pos).median()
    assert float(guided) < float(plain), (guided, plain)
    errors = pose_geometry_errors(ligand, runs[2.0].pos, runs[2.0].conformer)
    assert errors["bond_length"] < 1e-6 and errors["chirality_flips"] == 0
    with pytest.raises(ValueError, match="--guidance-scale: must be a finite number >= 0"):
        DiffusionPoseGenerator(model, process, data, guidance_scale=-1.0)
