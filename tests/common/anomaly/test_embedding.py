"""The feature-bank score: activations of the denoiser's feature layer, kNN distances to a bank of
normal inputs; checked against brute force, with a point-in-the-bank closed form and negative controls."""
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from sciffusion.common.anomaly import CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, ScoreConfig
from sciffusion.common.anomaly.embedding import (FeatureBank, build_bank, capture_output, embed, feature_knn,
                                                 knn_distances, patch_distances, patch_embeddings)
from sciffusion.common.anomaly.networks import DenoiserNetConfig, FrameStack, ResidualMLP, feature_layer, shallow_layer
from sciffusion.common.anomaly.score_config import compute_scores, score_defaults
from sciffusion.common.networks.unet2d import UNet2D, UNet2DConfig


class Toy(nn.Module):
    """D(x, σ) = layer(x) with a fixed random linear layer: the feature is a linear map of the input."""

    def __init__(self, dim=3, width=5):
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(dim, width)

    def forward(self, x, sigma):
        self.layer(x)
        return x * 0.5


def test_capture_output_reads_the_layer_and_removes_its_hook():
    toy = Toy()
    x = torch.randn(4, 3)
    with capture_output(toy.layer) as captured:
        toy(x, torch.ones(4))
        assert torch.allclose(captured["out"], toy.layer(x))
    assert not toy.layer._forward_hooks


def test_embeddings_are_unit_vectors_per_level_and_the_residual_map_is_exact():
    toy = Toy()
    x, sigmas = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0.5, 2.0], dtype=torch.float64)
    toy.double()
    e = embed(toy, toy.layer, x, sigmas, with_patches=True)
    emb, residual = e.inputs, e.residual
    assert e.patches is None and e.positions is None  # a [B, F] layer output has no positions
    assert emb.shape == (6, 2, 5) and torch.allclose(emb.norm(dim=2), torch.ones(6, 2, dtype=torch.float32))
    expected = sum(((0.5 * x - x) / s) ** 2 for s in (0.5, 2.0))
    assert torch.allclose(residual, expected)


def test_knn_distances_match_brute_force_and_cap_k():
    g = torch.Generator().manual_seed(1)
    bank, queries = torch.randn(30, 2, 4, generator=g), torch.randn(7, 2, 4, generator=g)
    out = knn_distances(queries, bank, k=3, chunk=2)
    for level in range(2):
        d = np.linalg.norm(queries[:, level, None].numpy() - bank[None, :, level].numpy(), axis=2)
        assert np.allclose(out[:, level].numpy(), np.sort(d, 1)[:, :3].mean(1), atol=1e-5)
    assert torch.allclose(knn_distances(queries, bank[:2], k=10), knn_distances(queries, bank[:2], k=2))
    with pytest.raises(ValueError, match="do not match"):
        knn_distances(queries, torch.randn(5, 2, 3), k=1)


def test_a_bank_member_scores_zero_and_a_far_point_scores_highest():
    toy = Toy()
    normal = torch.randn(50, 3, generator=torch.Generator().manual_seed(2)) * 0.3 + torch.tensor([1.0, 0.0, 0.0])
    sigmas = torch.tensor([0.3])
    bank = build_bank(toy, toy.layer, normal, sigmas, batch_size=16, patch_size=100)
    assert bank.inputs.dtype == torch.float16 and bank.inputs.shape == (50, 1, 5) and bank.patches is None
    s = feature_knn(toy, toy.layer, torch.cat([normal[:3], -normal[:1]]), sigmas, bank, k=1)
    assert s.nfe == 1 and s.features.shape == (4, 1)
    assert s.score[:3].abs().max() < 1e-2  # members of the bank (float16) are at distance ~0
    assert s.score[3] > 0.5  # the mirrored point points elsewhere
    assert len(build_bank(toy, toy.layer, normal, sigmas, size=10).inputs) == 10


def test_compute_scores_needs_the_layer_and_the_bank():
    with pytest.raises(ValueError, match="needs the network's feature layer"):
        compute_scores(lambda x, s: x, torch.randn(2, 3), ScoreConfig(kind="features", levels=2))
    assert ScoreConfig(kind="features", levels=3).nfe == 3
    assert score_defaults("features")["density"] == "mean" and score_defaults("msma")["levels"] == 10


def test_feature_layer_of_each_network():
    unet = UNet2D(UNet2DConfig(in_channels=2, base_channels=8, channel_mults=(1,), attention=(False,), groups=4))
    assert feature_layer(unet) is unet.mid[-1] and feature_layer(FrameStack(unet)) is unet.mid[-1]
    assert shallow_layer(unet) is unet.down[1][1] and shallow_layer(FrameStack(unet)) is unet.down[1][1]
    with capture_output(shallow_layer(unet)) as captured:  # full resolution, base channels
        unet(torch.randn(1, 2, 8, 8), torch.zeros(1))
    assert captured["out"].shape == (1, 8, 8, 8)
    mlp = ResidualMLP(3, 8, 1)
    assert feature_layer(mlp) is mlp.features and shallow_layer(mlp) is None
    with pytest.raises(ValueError, match="no known feature layer in a Linear"):
        feature_layer(nn.Linear(2, 2))


def test_detector_with_the_features_score_ranks_outliers_and_round_trips(tmp_path):
    cfg = DetectorConfig(score=ScoreConfig(kind="features", levels=2), calibration=CalibrationConfig(density="mean"),
                         minutes=1.0, max_steps=100, batch_size=64, holdout_fraction=0.25)
    x = np.random.default_rng(0).normal(0, 0.5, size=(300, 2)).astype(np.float32)
    det = DiffusionAnomalyDetector(contamination=0.1, config=cfg).fit(x, net_config=DenoiserNetConfig((2,), hidden=32,
                                                                                                      blocks=1))
    assert det.bank_ is not None and det.bank_.inputs.shape[:2] == (225, 2)  # the training part only
    assert det.bank_.patches is None  # an MLP has no feature map
    far = np.array([[3.0, 3.0], [-3.0, 2.5], [2.5, -3.0]], dtype=np.float32)
    assert det.decision_function(far).min() > np.quantile(det.decision_scores_, 0.9)
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.9))
    det.save(tmp_path / "d.pt")
    again = DiffusionAnomalyDetector.load(tmp_path / "d.pt")
    assert np.allclose(again.decision_function(x[:20]), det.decision_function(x[:20]))
    state = det.state()
    state["bank"] = None
    with pytest.raises(ValueError, match="without its memory bank"):
        DiffusionAnomalyDetector.from_state(state, "d.pt")
    with pytest.raises(ValueError, match="fitted on"):
        det.decision_function(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="neighbours/bank_size"):
        dataclasses.replace(cfg.score, neighbours=0)


def test_patch_embeddings_are_unit_vectors_of_the_locally_averaged_map():
    fmap = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    patches = patch_embeddings(fmap)
    assert patches.shape == (2, 30, 4) and torch.allclose(patches.norm(dim=2), torch.ones(2, 30, dtype=torch.float32))
    centre = fmap[0, :, 1:4, 2:5].mean((1, 2))  # position (2, 3): the mean of its 3x3 neighbourhood
    assert torch.allclose(patches[0, 2 * 6 + 3], nn.functional.normalize(centre, dim=0).float(), atol=1e-6)
    corner = fmap[1, :, :2, :2].mean((1, 2))  # borders average over the positions that exist
    assert torch.allclose(patches[1, 0], nn.functional.normalize(corner, dim=0).float(), atol=1e-6)
    assert patch_embeddings(torch.randn(2, 3, 2, 4, 4)).shape == (2, 32, 3)  # frames x space
    assert patch_embeddings(torch.randn(2, 7)) is None


def test_patch_distances_match_brute_force():
    g = torch.Generator().manual_seed(3)
    queries, bank = torch.randn(3, 2, 6, 4, generator=g), torch.randn(20, 2, 4, generator=g)
    for top in (1, 2, 6, 50):
        out = patch_distances(queries, bank, top=top, chunk=5)
        for level in range(2):
            d = np.linalg.norm(queries[:, level, :, None].numpy() - bank[None, None, :, level].numpy(), axis=3).min(2)
            assert np.allclose(out[:, level].numpy(), -np.sort(-d, 1)[:, :min(top, 6)].mean(1), atol=1e-5)
    with pytest.raises(ValueError, match="patch bank"):
        patch_distances(queries, torch.randn(5, 2, 3), top=1)


def test_a_small_local_defect_is_separated_by_the_patch_feature_and_not_by_the_global_one(conv_toy):
    """Normal images: random linear ramps, 48x48. The defect: a 3x3 bump of +0.5 at one place (values
    normal pixels have), 0.4 % of the image. The whole-image distance of defective images overlaps
    that of clean ones (the defect is diluted); the patch feature separates them completely."""
    g = torch.Generator().manual_seed(4)
    ramp = torch.linspace(-0.5, 0.5, 48)
    slopes = torch.rand(2, 60, 1, 1, generator=g)
    normal = (ramp[None, :, None] * slopes[0] + ramp[None, None, :] * slopes[1])[:, None]
    toy, sigmas = conv_toy(8), torch.tensor([0.3])
    bank = build_bank(toy, toy.layer, normal[:50], sigmas, batch_size=16, patch_size=4096)
    assert bank.patches is not None and abs(len(bank.patches) - 4096) <= 4 and bank.patches.shape[1:] == (1, 8)
    clean, broken = normal[50:], normal[50:].clone()
    broken[:, 0, 20:23, 20:23] += 0.5
    s_clean, s_broken = (feature_knn(toy, toy.layer, v, sigmas, bank, k=1, patch_top=2) for v in (clean, broken))
    assert s_clean.names == ("knn_0_sigma=0.3", "patch_0_sigma=0.3") and s_clean.nfe == 1
    assert s_broken.features[:, 1].min() > s_clean.features[:, 1].max()  # patches: complete separation
    assert s_broken.features[:, 0].min() < s_clean.features[:, 0].max()  # whole image: overlap
    no_patches = feature_knn(toy, toy.layer, broken, sigmas, FeatureBank(bank.inputs), k=1)  # no patch bank
    assert no_patches.names == ("knn_0_sigma=0.3",)
    assert torch.equal(s_broken.map, no_patches.map)  # the map stays the residual (D = x: zero) with patches
    assert torch.allclose(no_patches.map, torch.zeros(10, 48, 48))


def test_patch_bank_default_by_input_kind():
    from sciffusion.common.anomaly.score_config import IMAGE_PATCH_BANK, patch_bank_for

    auto, off, fixed = (ScoreConfig(kind="features", patch_bank_size=n) for n in (None, 0, 99))
    assert patch_bank_for(auto, (1, 28, 28)) == IMAGE_PATCH_BANK > 0  # images
    assert patch_bank_for(auto, (3, 8, 32, 32)) == 0 and patch_bank_for(auto, (5,)) == 0  # clips, vectors
    assert patch_bank_for(off, (1, 28, 28)) == 0 and patch_bank_for(fixed, (3, 8, 32, 32)) == 99


def test_feature_bank_reads_both_saved_forms():
    inputs = torch.zeros(3, 1, 2, dtype=torch.float16)
    assert FeatureBank.from_saved(inputs).patches is None  # a detector saved before the patch bank
    both = FeatureBank(inputs, torch.ones(5, 1, 2, dtype=torch.float16))
    again = FeatureBank.from_saved(both.to_dict())
    assert torch.equal(again.inputs, inputs) and torch.equal(again.patches, both.patches)
    assert FeatureBank.from_saved(None) is None
    with pytest.raises(ValueError, match="patch_bank_size/patch_top"):
        ScoreConfig(kind="features", patch_top=0)


def test_detector_on_images_keeps_a_patch_bank_and_round_trips(tmp_path):
    x = np.random.default_rng(1).uniform(-1, 1, size=(40, 1, 8, 8)).astype(np.float32)
    cfg = DetectorConfig(score=ScoreConfig(kind="features", levels=1, patch_bank_size=500),
                         calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=3, batch_size=8)
    det = DiffusionAnomalyDetector(config=cfg).fit(x, net_config=DenoiserNetConfig((1, 8, 8), base_channels=8, depth=2))
    assert det.bank_.patches is not None and det.bank_.patches.shape[1] == 1
    raw = det.score_samples(x[:4])
    assert raw.names == ("knn_0_sigma=0.3", "patch_0_sigma=0.3") and raw.features.shape == (4, 2)  # no positions: images
    det.save(tmp_path / "d.pt")
    again = DiffusionAnomalyDetector.load(tmp_path / "d.pt")
    assert torch.equal(again.bank_.patches, det.bank_.patches)
    assert np.allclose(again.decision_function(x[:4]), det.decision_function(x[:4]))
