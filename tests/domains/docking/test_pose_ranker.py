"""Learned pose ranking: rank features, a listwise fit that finds the informative feature, JSON round trip."""
import pytest
import torch

from sciffusion.domains.docking.physics import PhysicsRanked, rank_confidence
from sciffusion.domains.docking.pose_generators import RandomPoseGenerator
from sciffusion.domains.docking.pose_ranker import PoseRanker, centred_features, fit_pose_ranker

FEATS = ("signal", "noise")


def _groups(n: int, k: int, seed: int, informative: bool = True):
    g = torch.Generator().manual_seed(seed)
    groups, labels = [], []
    for _ in range(n):
        signal = torch.randn(k, generator=g, dtype=torch.float64) * 50  # arbitrary scale and offset
        noise = torch.randn(k, generator=g, dtype=torch.float64)
        good = torch.zeros(k, dtype=torch.bool)
        good[int(signal.argmin()) if informative else int(torch.randint(k, (1,), generator=g))] = True
        groups.append({"signal": signal + 1000 * torch.rand(1, generator=g, dtype=torch.float64), "noise": noise})
        labels.append(good)
    return groups, labels


def test_rank_features_are_positions_in_zero_one_centred_and_scale_free():
    props = {"a": torch.tensor([3.0, -100.0, 7.0, 7.0]), "b": torch.tensor([1.0, 2.0, 3.0, 4.0])}
    z = centred_features(props, ("a", "b"))
    expected_a = torch.tensor([1.0, 0.0, 2.5, 2.5], dtype=torch.float64) / 3
    assert torch.allclose(z[:, 0], expected_a - expected_a.mean(), atol=1e-12)
    scaled = centred_features({"a": props["a"] * 1e3 + 5, "b": props["b"]}, ("a", "b"))
    assert torch.allclose(z, scaled)  # monotone transforms do not change the features
    assert torch.equal(centred_features({"a": torch.tensor([2.0])}, ("a",)), torch.zeros(1, 1))


def test_listwise_fit_picks_the_informative_feature_and_negative_control():
    groups, labels = _groups(60, 8, seed=0)
    ranker = fit_pose_ranker(groups, labels, features=FEATS, l2=1e-3)
    assert ranker.weights[0] < -1.0 and abs(ranker.weights[1]) < abs(ranker.weights[0]) / 4
    test_groups, test_labels = _groups(40, 8, seed=1)
    hits = sum(bool(y[int(ranker.logits(p).argmax())]) for p, y in zip(test_groups, test_labels))
    assert hits >= 36  # the lowest 'signal' pose is the good one: found on held-out ligands
    noisy = fit_pose_ranker(*_groups(60, 8, seed=2, informative=False), features=FEATS, l2=1e-3)
    hits = sum(bool(y[int(noisy.logits(p).argmax())]) for p, y in zip(*_groups(200, 8, seed=3, informative=False)))
    assert hits < 50  # labels unrelated to the features: about chance (25 of 200), far from the informative fit
    again = PoseRanker.from_dict(ranker.to_dict())
    assert again == ranker
    with pytest.raises(ValueError, match="lack noise"):
        ranker.logits({"signal": torch.zeros(3)})
    with pytest.raises(ValueError, match="not a ranker file"):
        PoseRanker.from_dict({"features": ["a"]})
    with pytest.raises(ValueError, match="need a ligand"):
        fit_pose_ranker(groups[:2], [torch.zeros(8, dtype=torch.bool)] * 2, features=FEATS)


def test_learned_ranking_in_physics():
    ranker = PoseRanker(("vina_score",), (1.0,), (-1.0,), 0.0)
    props = {"vina_score": torch.tensor([-5.0, -9.0, 1.0], dtype=torch.float64)}
    conf = rank_confidence(torch.zeros(3), props["vina_score"], "learned", props, ranker)
    assert int(conf.argmax()) == 1
    with pytest.raises(ValueError, match="needs a pose ranker"):
        PhysicsRanked(RandomPoseGenerator(), rank_by="learned")
