"""Pose diffusion on the bundled complexes: the chart reproduces the crystal pose from the cached
conformer targets, agrees with the product retractions (translation, left rotation about the
centroid, torsions), batches, and the score adapter has the right shapes and SE(3) behaviour."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sciffusion.common.io.checkpoint import load_checkpoint
from sciffusion.common.manifolds.ragged import Ragged
from sciffusion.common.manifolds.so3 import exp_map, random_rotation
from sciffusion.domains.docking.conformers import conformer_targets, strip_hydrogens
from sciffusion.domains.docking.graphs import complex_tensors
from sciffusion.domains.docking.kinematics import apply_torsions, centroids, dihedrals, kabsch_rotations
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.pockets import ligand_pocket_from_mol, resolve_pocket
from sciffusion.domains.docking.pose_dataset import (
    PoseDataConfig, collate_training, crop_receptor, matched_rmsd, training_graph,
)
from sciffusion.domains.docking.pose_diffusion import (
    LigandLayout, PoseScoreNet, default_pose_process, model_file, model_from_file, poses, target_state,
)
from sciffusion.domains.docking.protein import read_protein
from sciffusion.domains.docking.score_model import DockingScoreModel, ScoreModelConfig

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
NAMES = ("6YQW_82I", "6XG5_TOP")
TINY = ScoreModelConfig(scalar_channels=4, vector_channels=2, sigma_frequencies=2, distance_embed_dim=4,
                        max_neighbors=8)


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    out = []
    for name in NAMES:
        protein = read_protein(DATA / f"{name}_pocket.pdb.gz")
        mol = read_ligand(DATA / f"{name}_ligand.sdf").mol
        tensors = complex_tensors(protein, mol, resolve_pocket(ligand_pocket_from_mol(mol), protein))
        tensors["conformers"] = conformer_targets(strip_hydrogens(mol), count=2, seed=0, refine_steps=20)
        tensors["id"] = name
        out.append(tensors)
    return out


def _double(tensors: dict) -> dict:
    return {k: ({kk: vv.double() if vv.is_floating_point() else vv for kk, vv in v.items()} if isinstance(v, dict)
                else v) for k, v in tensors.items()}


def test_default_process_ranges():
    proc = default_pose_process()
    assert proc.to_dict() == {"r3": {"kind": "euclidean", "sigma_min": 0.1, "sigma_max": 6.0},
                              "so3": {"kind": "so3", "sigma_min": 0.03, "sigma_max": 1.55},
                              "torus": {"kind": "torus", "sigma_min": 0.0314, "sigma_max": math.pi}}


def test_chart_of_the_target_state_is_the_crystal_pose_to_the_stored_rmsd(entries):
    graphs = [training_graph(_double(e), k) for e in entries for k in range(2)]
    state0, batch = collate_training(graphs)
    stored = torch.stack([e["conformers"]["rmsd_matched"][k] for e in entries for k in range(2)]).double()
    rmsd = matched_rmsd(batch, state0)
    assert torch.allclose(rmsd, stored, atol=2e-4), (rmsd, stored)
    assert (rmsd < 1.0).all()
    # r3 is the crystal centroid (conformer_targets' translation ends the centroid there)
    crystal = torch.stack([graph["ligand"].crystal_pos.mean(0) for graph in graphs])
    assert torch.allclose(state0["r3"], crystal, atol=1e-5)
    # batched = one at a time
    for i, graph in enumerate(graphs):
        single, _ = collate_training([graph])
        assert torch.allclose(single["so3"][0], state0["so3"][i])
        assert torch.allclose(single["torus"].values, state0["torus"].values[state0["torus"].index == i])


def _state_and_layout(entries, seed: int = 0):
    graphs = [training_graph(_double(e), 0) for e in entries]
    _, batch = collate_training(graphs)
    layout = LigandLayout.of(batch, check=True)
    g = torch.Generator().manual_seed(seed)
    b, m = layout.num_ligands, layout.rot_edges.shape[0]
    state = {"r3": torch.randn(b, 3, generator=g, dtype=torch.float64) * 3,
             "so3": random_rotation(b, generator=g),
             "torus": layout.torsion_part((torch.rand(m, generator=g, dtype=torch.float64) * 2 - 1) * math.pi)}
    return state, layout, batch


def test_chart_agrees_with_the_product_retractions(entries):
    state, layout, batch = _state_and_layout(entries)
    proc, ref = default_pose_process(), batch["ligand"].pos
    x = poses(ref, state, layout)
    b, m = layout.num_ligands, layout.rot_edges.shape[0]
    assert m > 0
    zero = {"r3": torch.zeros(b, 3, dtype=torch.float64), "so3": torch.zeros(b, 3, dtype=torch.float64),
            "torus": torch.zeros(m, dtype=torch.float64)}
    g = torch.Generator().manual_seed(1)
    # translation: every atom moves by v
    v = torch.randn(b, 3, generator=g, dtype=torch.float64)
    moved = poses(ref, proc.retract(state, {**zero, "r3": v}), layout)
    assert torch.allclose(moved - x, v[layout.batch], atol=1e-10)
    # rotation: exp([w]x) turns the pose about its centroid (left / space frame)
    w = torch.randn(b, 3, generator=g, dtype=torch.float64)
    moved = poses(ref, proc.retract(state, {**zero, "so3": w}), layout)
    c = state["r3"][layout.batch]
    assert torch.allclose(moved, torch.einsum("nij,nj->ni", exp_map(w)[layout.batch], x - c) + c, atol=1e-9)
    # finite difference: d/de of the pose along w is w x (x - c)
    eps = 1e-6
    fd = (poses(ref, proc.retract(state, {**zero, "so3": eps * w}), layout) - x) / eps
    assert torch.allclose(fd, torch.linalg.cross(w[layout.batch], x - c), atol=1e-5)
    # torsions: the dihedrals change by exactly v_k, the centroid stays on r3, and no rigid part is
    # left relative to the reference conformer (Kabsch of R⁻¹(pose − c') onto it is the identity)
    dv = torch.randn(m, generator=g, dtype=torch.float64) * 0.5
    moved_state = proc.retract(state, {**zero, "torus": dv})
    moved = poses(ref, moved_state, layout)
    assert torch.allclose(centroids(moved, layout.batch, b), state["r3"], atol=1e-10)
    local = torch.einsum("nji,nj->ni", state["so3"][layout.batch], moved - state["r3"][layout.batch])
    eye = torch.eye(3, dtype=torch.float64).expand(b, 3, 3)
    assert torch.allclose(kabsch_rotations(local, ref, layout.batch, b), eye, atol=1e-9)
    # negative control: the same torsions without the alignment keep a rigid part
    turned = apply_torsions(ref, layout.rot_edges, layout.mask_torsion, layout.mask_atom,
                            moved_state["torus"].values, layout.tree)
    assert not torch.allclose(kabsch_rotations(turned, ref, layout.batch, b), eye, atol=1e-3)
    quads = torch.cat([_quads(entries, batch, i) for i in range(b)])
    change = torch.remainder(dihedrals(moved, quads) - dihedrals(x, quads) - dv + math.pi, 2 * math.pi) - math.pi
    assert change.abs().max() < 1e-8
    # a wrong convention (torsions after the rotation, rotation about the origin) would fail the checks above
    assert not torch.allclose(torch.einsum("nij,nj->ni", exp_map(w)[layout.batch], x), moved, atol=1e-3)


def _quads(entries, batch, i: int) -> torch.Tensor:
    """Dihedral quadruples a-u-v-d of ligand i's rotatable bonds as flat batch indices."""
    first = int((batch["ligand"].batch < i).sum())
    return entries[i]["ligand"]["rot_dihedrals"] + first


def test_adapter_shapes_and_se3_equivariance(entries):
    torch.manual_seed(0)
    state, layout, batch = _state_and_layout(entries, seed=3)
    net = PoseScoreNet(DockingScoreModel(TINY).double(), default_pose_process())
    t = torch.tensor([0.3, 0.8], dtype=torch.float64)
    out = net(state, t, batch)
    b, m = layout.num_ligands, layout.rot_edges.shape[0]
    assert {k: tuple(v.shape) for k, v in out.items()} == {"r3": (b, 3), "so3": (b, 3), "torus": (m,)}
    assert all(torch.isfinite(v).all() for v in out.values())
    # move the whole complex by (Q, s): receptor and pose; the reference conformer stays, so R -> Q R
    q = random_rotation(1, generator=torch.Generator().manual_seed(5))[0]
    s = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    moved = batch.clone()
    moved["receptor"].pos = batch["receptor"].pos @ q.T + s
    moved["receptor"].side_chain_vecs = batch["receptor"].side_chain_vecs @ q.T
    moved_state = {"r3": state["r3"] @ q.T + s, "so3": q @ state["so3"], "torus": state["torus"]}
    assert torch.allclose(poses(moved["ligand"].pos, moved_state, layout), poses(batch["ligand"].pos, state, layout)
                          @ q.T + s, atol=1e-9)
    out_moved = net(moved_state, t, moved)
    assert torch.allclose(out_moved["r3"], out["r3"] @ q.T, atol=1e-7)
    assert torch.allclose(out_moved["so3"], out["so3"] @ q.T, atol=1e-7)
    assert torch.allclose(out_moved["torus"], out["torus"], atol=1e-7)
    assert out["r3"].abs().max() > 1e-6 and out["torus"].abs().max() > 1e-8  # not trivially zero


def test_model_file_round_trip_weights_only_and_errors(tmp_path, entries):
    torch.manual_seed(1)
    model = DockingScoreModel(TINY)
    data = PoseDataConfig(receptor_radius=12.0).to_dict()
    torch.save(model_file(model, default_pose_process(), data, {"step": 3}), tmp_path / "model.ckpt")
    loaded, process, data_back = model_from_file(load_checkpoint(tmp_path / "model.ckpt"), "model.ckpt")
    assert process == default_pose_process() and data_back == data
    state, layout, batch = _state_and_layout(entries)
    state = {"r3": state["r3"].float(), "so3": state["so3"].float(),
             "torus": Ragged(state["torus"].values.float(), state["torus"].index, state["torus"].num_samples)}
    graphs = [training_graph(e, 0) for e in entries]
    _, batch32 = collate_training(graphs)
    t = torch.tensor([0.2, 0.9])
    a, b = PoseScoreNet(model.eval(), process)(state, t, batch32), PoseScoreNet(loaded, process)(state, t, batch32)
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match=r"^x.ckpt: not a pose-diffusion model file"):
        model_from_file({"state_dict": {}}, "x.ckpt")
    bad = model_file(model, default_pose_process(), data)
    bad["model"]["scalar_channels"] = 8
    with pytest.raises(ValueError, match=r"^y.ckpt: model file does not fit this network") as err:
        model_from_file(bad, "y.ckpt")
    assert "\n" not in str(err.value)


def test_receptor_crop_keeps_residues_near_the_pocket_centre(entries):
    tensors = entries[0]
    cropped = crop_receptor(tensors, 10.0)
    dist = (tensors["receptor"]["pos"] - tensors["pocket"]["center"]).norm(dim=-1)
    assert cropped["receptor"]["pos"].shape[0] == int((dist <= 10.0).sum()) > 0
    assert crop_receptor(tensors, None)["receptor"]["pos"].shape == tensors["receptor"]["pos"].shape
    with pytest.raises(ValueError, match="receptor_radius"):
        PoseDataConfig(receptor_radius=-1.0)


def test_target_state_needs_the_conformer_on_the_graph(entries):
    graph = training_graph(entries[1], 1)
    state = target_state(graph)
    assert state["torus"].values.shape == (graph["ligand"].rot_edges.shape[0],)
    # so3 = R_k A_δ⁻¹: the stored rotation up to the alignment that removes the torsions' rigid part
    lig, layout = graph["ligand"], LigandLayout.of(graph)
    flex = apply_torsions(lig.pos, layout.rot_edges, layout.mask_torsion, layout.mask_atom,
                          lig.rot_conformer_delta.reshape(-1), layout.tree)
    align = kabsch_rotations(flex, lig.pos, layout.batch, 1)[0]
    assert torch.allclose(state["so3"][0] @ align, entries[1]["conformers"]["rotation"][1].to(align.dtype),
                          atol=1e-5)
    assert not torch.allclose(align, torch.eye(3, dtype=align.dtype), atol=1e-3)


def test_chart_does_not_depend_on_which_side_of_a_bond_turns():
    """Turning v's side by +δ about u→v or u's side by +δ about v→u gives the same pose in the chart
    (the rigid difference is aligned away), as the score model's side-independent torsion output needs."""
    from sciffusion.domains.docking.kinematics import torsion_tree

    g = torch.Generator().manual_seed(3)
    ref = torch.randn(7, 3, generator=g, dtype=torch.float64) * 1.5  # one bond 2-3; 0,1,2 | 3,4,5,6
    edges = torch.tensor([[2, 3]])
    small = torch.tensor([0, 1, 2])  # u's side as the moving side of the reversed bond (3, 2)
    large = torch.tensor([3, 4, 5, 6])
    batch = torch.zeros(7, dtype=torch.long)
    state = {"r3": torch.randn(1, 3, generator=g, dtype=torch.float64), "so3": random_rotation(1, generator=g)}
    delta = torch.tensor([0.9], dtype=torch.float64)
    out = []
    for e, side in ((edges, large), (edges.flip(1), small)):
        tree = torsion_tree(e, torch.zeros(len(side), dtype=torch.long), side, 7)
        layout = LigandLayout(batch, 1, e, torch.zeros(len(side), dtype=torch.long), side,
                              torch.zeros(1, dtype=torch.long), tree)
        out.append(poses(ref, {**state, "torus": layout.torsion_part(delta)}, layout))
    assert torch.allclose(out[0], out[1], atol=1e-9)


def test_rigid_target_is_the_conformer_superposed_on_the_crystal(entries):
    graphs = [training_graph(_double(e), k) for e in entries for k in range(2)]
    state0, batch = collate_training(graphs, torsions=False)
    assert set(state0) == {"r3", "so3"}
    layout = LigandLayout.of(batch)
    pos = poses(batch["ligand"].pos, state0, layout)
    crystal = batch["ligand"].crystal_pos
    per_atom = ((pos - crystal) ** 2).sum(-1)
    rmsd = torch.zeros(layout.num_ligands, dtype=per_atom.dtype).index_add_(0, layout.batch, per_atom)
    rmsd = (rmsd / torch.bincount(layout.batch).to(rmsd)).sqrt()
    stored = torch.stack([e["conformers"]["rmsd_rigid"][k] for e in entries for k in range(2)]).double()
    assert torch.allclose(rmsd, stored, atol=2e-4), (rmsd, stored)
    # the rigid chart keeps every internal distance of the reference conformer
    ref = batch["ligand"].pos
    for b in range(layout.num_ligands):
        mine = layout.batch == b
        assert torch.allclose(torch.cdist(pos[mine], pos[mine]), torch.cdist(ref[mine], ref[mine]), atol=1e-9)
    # negative control: the flexible target changes the torsions, so it is closer to the crystal pose
    flexible, _ = collate_training(graphs)
    assert (matched_rmsd(batch, flexible) < rmsd - 0.05).any()


def test_rigid_process_scores_only_translation_and_rotation(entries):
    from sciffusion.common.manifolds.product import Euclidean, ProductProcess
    from sciffusion.domains.docking.pose_diffusion import check_pose_process, has_torsions

    rigid = default_pose_process(torsions=False)
    assert not has_torsions(rigid) and has_torsions(default_pose_process())
    assert set(check_pose_process(rigid).components) == {"r3", "so3"}
    with pytest.raises(ValueError, match="needs components r3, so3"):
        check_pose_process(ProductProcess({"r3": Euclidean(0.1, 6.0)}))
    state, layout, batch = _state_and_layout(entries, seed=4)
    del state["torus"]
    net = PoseScoreNet(DockingScoreModel(TINY).double(), rigid)
    out = net(state, torch.tensor([0.2, 0.9], dtype=torch.float64), batch)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"r3": (2, 3), "so3": (2, 3)}
    q = random_rotation(1, generator=torch.Generator().manual_seed(8))[0].double()
    moved = batch.clone()
    moved["receptor"].pos = batch["receptor"].pos @ q.T
    moved["receptor"].side_chain_vecs = batch["receptor"].side_chain_vecs @ q.T
    out_moved = net({"r3": state["r3"] @ q.T, "so3": q @ state["so3"]}, torch.tensor([0.2, 0.9],
                    dtype=torch.float64), moved)
    assert torch.allclose(out_moved["r3"], out["r3"] @ q.T, atol=1e-7)
    assert torch.allclose(out_moved["so3"], out["so3"] @ q.T, atol=1e-7)
