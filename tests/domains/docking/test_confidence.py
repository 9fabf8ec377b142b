from __future__ import annotations

import math

import pytest
import torch

from sciffusion.common.testing.equivariance import assert_equivariant
from sciffusion.domains.docking.confidence import (
    FEATURE_NAMES, ConfidenceFitConfig, ConfidenceModel, auroc, confidence_fn, consensus_features,
    load_confidence_model, pose_features,
)
from sciffusion.domains.docking.pose_generators import clash_confidence


def _complex(k: int = 6, n: int = 9, a: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """K poses of an N-atom ligand scattered around a pocket of A receptor atoms (float64, Å)."""
    g = torch.Generator().manual_seed(seed)
    receptor = 7.0 * torch.randn(a, 3, dtype=torch.float64, generator=g)
    ligand = 1.5 * torch.randn(n, 3, dtype=torch.float64, generator=g)
    shifts = 2.0 * torch.randn(k, 1, 3, dtype=torch.float64, generator=g)
    return ligand + shifts + 0.3 * torch.randn(k, n, 3, dtype=torch.float64, generator=g), receptor


def test_features_are_invariant_to_a_rigid_motion_of_poses_and_receptor():
    pos, receptor = _complex()
    features = pose_features(pos, receptor)
    assert features.shape == (6, len(FEATURE_NAMES)) and features.dtype == torch.float64
    column = dict(zip(FEATURE_NAMES, features.T))
    assert column["log1p_clashes"].max() > 0 and 0 < column["contact_fraction"].min()  # not a trivial case
    assert column["consensus_rmsd"].std() > 0 and column["buriedness"].std() > 0
    assert_equivariant(pose_features, (pos, receptor), transforms=(("point", "point"), ("invariant",)),
                       n_trials=4, atol=1e-9, generator=torch.Generator().manual_seed(1))


def test_features_reuse_the_clash_score_and_match_hand_counts():
    pos, receptor = _complex()
    column = dict(zip(FEATURE_NAMES, pose_features(pos, receptor).T))
    clash = clash_confidence(pos, receptor)
    assert torch.equal(column["log1p_clashes"], torch.log1p(clash["clashes"]))
    assert torch.equal(column["contact_fraction"], clash["contact_fraction"])
    dist = torch.cdist(pos, receptor.expand(6, -1, -1))
    assert torch.allclose(column["buriedness"], (dist < 8.0).sum(-1).double().mean(-1))
    assert torch.allclose(column["closest_contact"], dist.amin(dim=(1, 2)).clamp(max=8.0))
    assert torch.allclose(column["log_atoms"], torch.full((6,), math.log(9), dtype=torch.float64))


def test_consensus_ranks_a_cluster_above_an_outlier():
    g = torch.Generator().manual_seed(0)
    ligand = torch.randn(12, 3, dtype=torch.float64, generator=g)
    cluster = ligand + 0.1 * torch.randn(5, 12, 3, dtype=torch.float64, generator=g)
    outlier = (ligand + torch.tensor([6.0, 0.0, 0.0], dtype=torch.float64))[None]
    pos = torch.cat([cluster[:2], outlier, cluster[2:]])  # the outlier is pose 2
    consensus = consensus_features(pos)
    assert int(consensus["consensus_rmsd"].argmax()) == 2 and int(consensus["centroid_offset"].argmax()) == 2
    assert consensus["consensus_fraction"].tolist() == [0.8, 0.8, 0.0, 0.8, 0.8, 0.8]


def test_consensus_closed_form_for_two_translated_poses_and_one_pose():
    ligand = torch.randn(7, 3, dtype=torch.float64)
    pos = torch.stack([ligand, ligand + torch.tensor([0.0, 3.0, 0.0], dtype=torch.float64)])
    consensus = consensus_features(pos)
    assert torch.allclose(consensus["consensus_rmsd"], torch.full((2,), 3.0, dtype=torch.float64))  # RMSD = |t|
    assert consensus["consensus_fraction"].tolist() == [0.0, 0.0]
    assert torch.allclose(consensus["centroid_offset"], torch.full((2,), 1.5, dtype=torch.float64))
    single = consensus_features(pos[:1])
    assert single["consensus_rmsd"].tolist() == [0.0] and single["consensus_fraction"].tolist() == [1.0]


def test_auroc_closed_forms():
    labels = torch.tensor([0, 0, 1, 1])
    assert auroc(torch.tensor([1.0, 2.0, 3.0, 4.0]), labels) == 1.0
    assert auroc(torch.tensor([4.0, 3.0, 2.0, 1.0]), labels) == 0.0
    assert auroc(torch.ones(4), labels) == 0.5
    assert auroc(torch.tensor([1.0, 3.0, 2.0, 4.0]), labels) == 0.75
    assert math.isnan(auroc(torch.ones(3), torch.ones(3)))


def _toy(b: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Separable toy: label = (feature 1 + feature 4 > 0), features on very different scales."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, len(FEATURE_NAMES), dtype=torch.float64, generator=g)
    x = x * torch.logspace(-2, 2, len(FEATURE_NAMES), dtype=torch.float64)
    y = (x[:, 1] / x[:, 1].std() + x[:, 4] / x[:, 4].std() > 0).long()
    return x, y


@pytest.mark.parametrize("hidden", [0, 8])
def test_model_fits_a_separable_problem_and_round_trips_through_its_file(tmp_path, hidden):
    x, y = _toy()
    model = ConfidenceModel.fit(x, y, ConfidenceFitConfig(hidden=hidden, weight_decay=1e-5), extra={"samples": 4})
    logits = model.logits(x)
    assert logits.shape == (200,) and auroc(logits, y) == 1.0
    held_out, held_y = _toy(seed=1)
    assert auroc(model.logits(held_out), held_y) > 0.97
    torch.save(model.to_file(), tmp_path / "confidence.ckpt")
    loaded = ConfidenceModel.from_file(torch.load(tmp_path / "confidence.ckpt", weights_only=True), "confidence.ckpt")
    assert torch.equal(loaded.logits(x), logits) and loaded.hidden == hidden and loaded.extra == {"samples": 4}
    assert torch.equal(load_confidence_model(tmp_path / "confidence.ckpt").logits(x), logits)


def test_fit_refuses_one_class_and_wrong_widths():
    x, _ = _toy(20)
    with pytest.raises(ValueError, match="^labels: need 0/1 labels of both classes, got 0 of 20 positive$"):
        ConfidenceModel.fit(x, torch.zeros(20))
    with pytest.raises(ValueError, match=r"^features: expected \[B, 9\] with B = 20 labels, got \(20, 3\)$"):
        ConfidenceModel.fit(x[:, :3], torch.arange(20) % 2)


def test_a_wrong_file_is_a_one_line_error_naming_it(tmp_path):
    from sciffusion.domains.docking.pose_diffusion import default_pose_process, model_file
    from sciffusion.domains.docking.score_model import DockingScoreModel, ScoreModelConfig

    score = model_file(DockingScoreModel(ScoreModelConfig(scalar_channels=4, vector_channels=2, sigma_frequencies=2,
                                                          distance_embed_dim=4, max_neighbors=8)),
                       default_pose_process(), {})
    torch.save(score, tmp_path / "model.ckpt")
    with pytest.raises(ValueError, match=r"^\S*model.ckpt: not a confidence model file \(expected DIR/confidence.ckpt"):
        load_confidence_model(tmp_path / "model.ckpt")
    for content in ([1, 2], None, {"kind": "x"}):
        with pytest.raises(ValueError, match="^bad.ckpt: not a confidence model file"):
            ConfidenceModel.from_file(content, "bad.ckpt")
    x, y = _toy(40)
    good = ConfidenceModel.fit(x, y, ConfidenceFitConfig(hidden=4)).to_file()
    for broken, message in (({**good, "format_version": 99}, "confidence model file format 99, this version reads 1"),
                            ({**good, "feature_names": ["a"]}, "confidence model features"),
                            ({**good, "hidden": 5}, "confidence file does not fit this model"),
                            ({**good, "mean": torch.zeros(3)}, "confidence file does not fit this model")):
        with pytest.raises(ValueError, match=f"^bad.ckpt: {message}") as info:
            ConfidenceModel.from_file(broken, "bad.ckpt")
        assert "\n" not in str(info.value)


def test_confidence_fn_returns_logits_and_features_per_pose():
    x, y = _toy()
    model = ConfidenceModel.fit(x, y, ConfidenceFitConfig(hidden=0))
    pos, receptor = _complex()
    scores = confidence_fn(model)(pos, receptor)
    features = pose_features(pos, receptor)
    assert set(scores) == {"confidence", *FEATURE_NAMES}
    assert torch.equal(scores["confidence"], model.logits(features))
    assert all(scores[name].shape == (6,) for name in scores)
    assert torch.equal(scores["consensus_rmsd"], features[:, 0])
