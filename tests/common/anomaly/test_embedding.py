"""The feature-bank score: activations of the denoiser's feature layer, kNN distances to a bank of
normal inputs; checked against brute force, with a point-in-the-bank closed form and negative controls."""
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from sciffusion.common.anomaly import CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, ScoreConfig
from sciffusion.common.anomaly.embedding import build_bank, capture_output, embed, feature_knn, knn_distances
from sciffusion.common.anomaly.networks import DenoiserNetConfig, FrameStack, ResidualMLP, feature_layer
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
    emb, residual = embed(toy, toy.layer, x, sigmas)
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
    bank = build_bank(toy, toy.layer, normal, sigmas, batch_size=16)
    assert bank.dtype == torch.float16 and bank.shape == (50, 1, 5)
    s = feature_knn(toy, toy.layer, torch.cat([normal[:3], -normal[:1]]), sigmas, bank, k=1)
    assert s.nfe == 1 and s.features.shape == (4, 1)
    assert s.score[:3].abs().max() < 1e-2  # members of the bank (float16) are at distance ~0
    assert s.score[3] > 0.5  # the mirrored point points elsewhere
    assert len(build_bank(toy, toy.layer, normal, sigmas, size=10)) == 10


def test_compute_scores_needs_the_layer_and_the_bank():
    with pytest.raises(ValueError, match="needs the network's feature layer"):
        compute_scores(lambda x, s: x, torch.randn(2, 3), ScoreConfig(kind="features", levels=2))
    assert ScoreConfig(kind="features", levels=3).nfe == 3
    assert score_defaults("features")["density"] == "mean" and score_defaults("msma")["levels"] == 10


def test_feature_layer_of_each_network():
    unet = UNet2D(UNet2DConfig(in_channels=2, base_channels=8, channel_mults=(1,), attention=(False,), groups=4))
    assert feature_layer(unet) is unet.mid[-1] and feature_layer(FrameStack(unet)) is unet.mid[-1]
    mlp = ResidualMLP(3, 8, 1)
    assert feature_layer(mlp) is mlp.features
    with pytest.raises(ValueError, match="no known feature layer in a Linear"):
        feature_layer(nn.Linear(2, 2))


def test_detector_with_the_features_score_ranks_outliers_and_round_trips(tmp_path):
    cfg = DetectorConfig(score=ScoreConfig(kind="features", levels=2), calibration=CalibrationConfig(density="mean"),
                         minutes=1.0, max_steps=100, batch_size=64, holdout_fraction=0.25)
    x = np.random.default_rng(0).normal(0, 0.5, size=(300, 2)).astype(np.float32)
    det = DiffusionAnomalyDetector(contamination=0.1, config=cfg).fit(x, net_config=DenoiserNetConfig((2,), hidden=32,
                                                                                                      blocks=1))
    assert det.bank_ is not None and det.bank_.shape[:2] == (225, 2)  # the training part only
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
