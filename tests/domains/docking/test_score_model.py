"""Docking score model on the bundled complexes: SE(3) equivariance (and parity), torsion scores
independent of the bond direction, batching, σ conditioning, edges from the current pose."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from sciffusion.common.testing import assert_equivariant
from sciffusion.domains.docking.graphs import build_graph, complex_tensors
from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.pockets import ligand_pocket_from_mol, resolve_pocket
from sciffusion.domains.docking.protein import read_protein
from sciffusion.domains.docking.score_inputs import ComplexInputs, complex_inputs, concat_inputs, with_positions
from sciffusion.domains.docking.score_model import DockingScoreModel, PoseScores, ScoreModelConfig

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
SIGMAS = (3.0, 0.7, 0.9)  # σ_tr Å, σ_rot rad, σ_tor rad
OUT_KINDS = ("vector", "pseudovector", "scalar")


def _tensors(name: str, include_atoms: bool = False) -> dict:
    protein = read_protein(DATA / f"{name}_pocket.pdb.gz")
    mol = read_ligand(DATA / f"{name}_ligand.sdf").mol
    return complex_tensors(protein, mol, resolve_pocket(ligand_pocket_from_mol(mol), protein),
                           include_atoms=include_atoms)


def _double(inputs: ComplexInputs) -> ComplexInputs:
    return with_positions(inputs, inputs.ligand_pos.double(), inputs.receptor_pos.double(),
                          inputs.side_chain_vecs.double(),
                          None if inputs.atom_pos is None else inputs.atom_pos.double())


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tensors():
    """6XG5 (trimethoprim: 21 heavy atoms, 5 rotatable bonds; 90 pocket residues) and 6YQW (11 atoms, 1 bond)."""
    return {name: _tensors(name) for name in ("6XG5_TOP", "6YQW_82I")}


@pytest.fixture(scope="module")
def inputs(tensors):
    return {name: _double(complex_inputs(build_graph(t))) for name, t in tensors.items()}


def _model(seed: int = 0, **kw) -> DockingScoreModel:
    torch.manual_seed(seed)
    return DockingScoreModel(ScoreModelConfig(**kw)).double().eval()


def _scores(model, inputs, sigmas=SIGMAS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    out = model(inputs, *sigmas)
    return out.translation, out.rotation, out.torsion


def _rigid_fn(model, inputs):
    """Scores as a function of the complex's geometry (ligand and residue positions, side-chain vectors)."""
    def fn(lig_pos, rec_pos, side_chains):
        return _scores(model, with_positions(inputs, lig_pos, rec_pos, side_chains))
    return fn, [inputs.ligand_pos, inputs.receptor_pos, inputs.side_chain_vecs]


def test_scores_are_se3_equivariant(inputs):
    """Moving the whole complex rotates translation and rotation scores and leaves torsion scores unchanged."""
    model = _model()
    fn, args = _rigid_fn(model, inputs["6XG5_TOP"])
    assert_equivariant(fn, args, transforms=(("point", "point", "vector"), OUT_KINDS), atol=1e-6, n_trials=3,
                       generator=torch.Generator().manual_seed(1))
    tr, rot, tor = fn(*args)
    assert tr.norm() > 1e-3 and rot.norm() > 1e-3 and tor.abs().min() > 1e-6  # not trivially zero


@pytest.mark.parametrize("lmax, normalize_torsion", [(2, False), (1, True)])
def test_scores_have_the_right_parity(inputs, lmax, normalize_torsion):
    """Under a reflection the translation score is a vector, the rotation score an axial vector and the
    torsion score a pseudoscalar (a mirrored pose has mirrored dihedrals); the torsion head's channel
    normalisation keeps that."""
    model = _model(lmax=lmax, normalize_torsion=normalize_torsion)
    fn, args = _rigid_fn(model, inputs["6XG5_TOP"])
    assert_equivariant(fn, args, transforms=(("point", "point", "vector"), ("vector", "pseudovector", "pseudoscalar")),
                       atol=1e-6, n_trials=2, parity=True, generator=torch.Generator().manual_seed(2))


def test_normalized_torsion_head_starts_at_unit_scale(inputs):
    """Without the channel normalisation the raw torsion outputs start ~100x below the O(1) targets of
    the σ-scaled loss (what kept the torsion loss flat in training); with it they start at O(0.1-1)."""
    raw = {}
    for flag in (False, True):
        model = _model(seed=3, normalize_torsion=flag, scale_by_sigma=False)
        with torch.no_grad():
            raw[flag] = _scores(model, inputs["6XG5_TOP"])[2].abs().mean().item()
    assert raw[False] < 0.05 and raw[True] > 0.1 and raw[True] < 10


def test_negative_control_coordinates_as_features_break_equivariance(inputs):
    """Feeding raw coordinates into the ligand node scalars must make the equivariance check fail."""
    class CoordinateLeak(DockingScoreModel):
        def _ligand_scalars(self, inp):
            return super()._ligand_scalars(inp) + inp.ligand_pos.sum(-1, keepdim=True)

    torch.manual_seed(0)
    model = CoordinateLeak(ScoreModelConfig()).double().eval()
    fn, args = _rigid_fn(model, inputs["6XG5_TOP"])
    with pytest.raises(AssertionError, match=r"output 0 \(vector\)"):
        assert_equivariant(fn, args, transforms=(("point", "point", "vector"), OUT_KINDS), atol=1e-6, n_trials=1,
                           generator=torch.Generator().manual_seed(1))


def test_torsion_score_does_not_depend_on_bond_direction(inputs):
    """Reversing every rotatable edge (u, v) -> (v, u) gives identical torsion scores (documented
    convention), while turning one bond changes that bond's score."""
    from sciffusion.domains.docking.torsions import apply_torsion_updates

    model, inp = _model(), inputs["6XG5_TOP"]
    tor = _scores(model, inp)[2]
    tor_rev = _scores(model, replace(inp, rot_edges=inp.rot_edges.flip(1)))[2]
    assert torch.equal(tor, tor_rev)
    g = build_graph(_tensors("6XG5_TOP"))
    delta = torch.zeros(tor.shape[0], dtype=torch.float64)
    delta[0] = 1.0
    mask = g["ligand"].rot_mask if "rot_mask" in g["ligand"] else _dense_mask(g)
    turned = apply_torsion_updates(inp.ligand_pos, inp.rot_edges, mask, delta)
    tor_turned = _scores(model, with_positions(inp, turned))[2]
    assert (tor_turned[0] - tor[0]).abs() > 1e-6


def _dense_mask(g) -> torch.Tensor:
    lig = g["ligand"]
    mask = torch.zeros(lig.rot_edges.shape[0], lig.num_nodes, dtype=torch.bool)
    mask[lig.rot_mask_torsion, lig.rot_mask_atom] = True
    return mask


def test_batch_shapes_and_batched_equals_one_at_a_time(inputs):
    """A hand-concatenated pair gives [2, 3], [2, 3], [5 + 1] and the same numbers as one complex at a time."""
    model = _model()
    one = [_scores(model, inputs[n], sigmas=s)
           for n, s in (("6XG5_TOP", (3.0, 0.7, 0.9)), ("6YQW_82I", (8.0, 1.2, 0.2)))]
    pair = concat_inputs([inputs["6XG5_TOP"], inputs["6YQW_82I"]])
    sig = [torch.tensor(s, dtype=torch.float64) for s in ((3.0, 8.0), (0.7, 1.2), (0.9, 0.2))]
    tr, rot, tor = _scores(model, pair, sigmas=sig)
    assert tr.shape == (2, 3) and rot.shape == (2, 3) and tor.shape == (6,)
    assert torch.allclose(tr, torch.cat([one[0][0], one[1][0]]), atol=1e-10)
    assert torch.allclose(rot, torch.cat([one[0][1], one[1][1]]), atol=1e-10)
    assert torch.allclose(tor, torch.cat([one[0][2], one[1][2]]), atol=1e-10)


def test_torch_geometric_batch_is_read_like_concatenation(tensors, inputs):
    """``complex_inputs`` of a ``Batch.from_data_list`` equals ``concat_inputs`` of the single graphs."""
    collate = pytest.importorskip("sciffusion.domains.docking.collate")
    batch = collate.collate_complexes([build_graph(tensors["6XG5_TOP"]), build_graph(tensors["6YQW_82I"])])
    got, want = _double(complex_inputs(batch)), concat_inputs([inputs["6XG5_TOP"], inputs["6YQW_82I"]])
    assert got.num_complexes == 2
    for field in ("ligand_x", "ligand_pos", "ligand_batch", "bond_index", "bond_type", "rot_edges", "receptor_pos",
                  "receptor_batch"):
        assert torch.equal(getattr(got, field), getattr(want, field)), field


def test_scores_depend_on_each_noise_level(inputs):
    """Each of σ_tr, σ_rot, σ_tor changes every output even without the σ rescaling (conditioning is used)."""
    model, inp = _model(scale_by_sigma=False), inputs["6XG5_TOP"]
    base = _scores(model, inp)
    for k in range(3):
        sig = list(SIGMAS)
        sig[k] *= 4.0
        moved = _scores(model, inp, sigmas=tuple(sig))
        for a, b in zip(base, moved):
            assert (a - b).abs().max() > 1e-6, f"sigma {k}"


def test_edges_follow_the_current_pose(tensors, inputs):
    """The model rebuilds radius edges from the positions it is given: a graph built at another pose
    with the new positions swapped in gives the same scores as a graph built at the new pose."""
    model = _model()
    moved = {k: dict(v) for k, v in tensors["6XG5_TOP"].items()}
    moved["ligand"]["pos"] = tensors["6XG5_TOP"]["ligand"]["pos"] + torch.tensor([6.0, -4.0, 3.0])
    direct = _scores(model, _double(complex_inputs(build_graph(moved))))
    swapped = _scores(model, with_positions(inputs["6XG5_TOP"], moved["ligand"]["pos"].double()))
    unmoved = _scores(model, inputs["6XG5_TOP"])
    for a, b, c in zip(direct, swapped, unmoved):
        assert torch.allclose(a, b, atol=1e-10)
        assert not torch.allclose(a, c, atol=1e-4)


def test_receptor_atoms_variant_is_equivariant():
    """With ``use_atoms`` the receptor atoms join the graph; moving them with the rest keeps equivariance."""
    inp = _double(complex_inputs(build_graph(_tensors("6YQW_82I", include_atoms=True))))
    model = _model(use_atoms=True, max_neighbors=8)

    def fn(lig_pos, rec_pos, side_chains, atom_pos):
        return _scores(model, with_positions(inp, lig_pos, rec_pos, side_chains, atom_pos))

    assert_equivariant(fn, [inp.ligand_pos, inp.receptor_pos, inp.side_chain_vecs, inp.atom_pos],
                       transforms=(("point", "point", "vector", "point"), OUT_KINDS), atol=1e-6, n_trials=1,
                       generator=torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="use_atoms"):
        model(replace(inp, atom_x=None, atom_pos=None, atom_batch=None, atom_residue=None), *SIGMAS)


def test_every_parameter_gets_a_finite_gradient(inputs):
    model = _model()
    out: PoseScores = model(concat_inputs([inputs["6XG5_TOP"], inputs["6YQW_82I"]]), 2.0, 0.5, 0.5)
    (out.translation.square().sum() + out.rotation.square().sum() + out.torsion.square().sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_config_and_input_validation(inputs):
    for bad in ({"lmax": 3}, {"num_layers": 1}, {"ligand_cutoff": 0.0}, {"cross_cutoff": float("nan")},
                {"max_neighbors": 0}, {"cross_cutoff_per_sigma": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ScoreModelConfig(**bad)
    model = _model()
    with pytest.raises(ValueError, match="sigma_rot"):
        model(inputs["6XG5_TOP"], 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="sigma_tr"):
        model(inputs["6XG5_TOP"], torch.ones(2), 1.0, 1.0)
    with pytest.raises(ValueError, match="rot_edges"):
        replace(inputs["6XG5_TOP"], rot_edges=torch.tensor([[0, 99]]))


def test_rigid_ligand_gives_no_torsion_scores(inputs):
    """A complex without rotatable bonds (alone and in a batch) gives finite rigid scores and [0] / fewer torsions."""
    model = _model()
    rigid = replace(inputs["6YQW_82I"], rot_edges=torch.zeros((0, 2), dtype=torch.long))
    tr, rot, tor = _scores(model, rigid)
    assert tor.shape == (0,) and torch.isfinite(tr).all() and torch.isfinite(rot).all()
    tr2, rot2, tor2 = _scores(model, concat_inputs([inputs["6XG5_TOP"], rigid]))
    assert tor2.shape == (5,) and torch.allclose(tr2[1], tr[0], atol=1e-10)
