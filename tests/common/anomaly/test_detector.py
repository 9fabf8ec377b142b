"""The PyOD-compatible detector on a tiny MLP and 2-D Gaussian data (a few seconds of training)."""
import dataclasses

import numpy as np
import pytest
import torch

from sciffusion.common.anomaly import CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, ScoreConfig
from sciffusion.common.anomaly.networks import DenoiserNetConfig


def _config(**kw):
    base = DetectorConfig(score=ScoreConfig(kind="msma", levels=4, sigma_min=0.05, sigma_max=1.0),
                          calibration=CalibrationConfig(density="gmm", contamination=0.1), minutes=1.0,
                          max_steps=150, batch_size=64, holdout_fraction=0.25)
    return dataclasses.replace(base, **kw)


NET = DenoiserNetConfig((2,), hidden=32, blocks=1)


@pytest.fixture(scope="module")
def fitted():
    x = np.random.default_rng(0).normal(0, 0.5, size=(300, 2)).astype(np.float32)
    det = DiffusionAnomalyDetector(contamination=0.1, config=_config()).fit(x, net_config=NET)
    return det, x


def test_pyod_conventions(fitted):
    det, x = fitted
    assert det.contamination == 0.1
    assert det.decision_scores_.shape == (300,) and det.labels_.shape == (300,)
    assert np.array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.9))
    assert 0.02 < det.labels_.mean() < 0.3
    far = np.full((5, 2), 4.0, dtype=np.float32)
    assert (det.decision_function(far) > np.quantile(det.decision_scores_, 0.99)).all()  # higher = more anomalous
    assert det.predict(far).tolist() == [1] * 5
    proba = det.predict_proba(np.r_[far, x[:5]])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1) and (proba[:5, 1] > 0.5).all()
    assert det.fit_report_.steps > 0 and det.score_samples(far).nfe == 4


def test_save_load_round_trip(fitted, tmp_path):
    det, x = fitted
    path = det.save(tmp_path / "det.pt")
    back = DiffusionAnomalyDetector.load(path)
    assert np.allclose(back.decision_function(x[:20]), det.decision_function(x[:20]), atol=1e-10)
    assert back.threshold_ == det.threshold_
    with pytest.raises(ValueError, match="shape"):
        back.decision_function(np.zeros((3, 5), dtype=np.float32))


def test_pyod_rule_exact_without_holdout():
    x = np.random.default_rng(1).normal(0, 0.5, size=(120, 2)).astype(np.float32)
    det = DiffusionAnomalyDetector(contamination=0.2, config=_config(holdout_fraction=0.0, max_steps=20))
    calls = []
    det.fit(x, net_config=NET, on_score_batch=lambda n, total: calls.append((n, total)))
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.8))
    assert sum(n for n, _ in calls) == 240 and {t for _, t in calls} == {240}  # calibration set (= X) and X


def test_unfitted_and_bad_input():
    det = DiffusionAnomalyDetector()
    with pytest.raises(ValueError, match="not fitted"):
        det.decision_function(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="N >= 1"):
        det.fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="nan"):
        det.fit(np.full((4, 2), np.nan))


def test_default_networks_follow_the_shape():
    for shape, kind in (((3,), "mlp"), ((1, 8, 8), "unet2d"), ((1, 4, 8, 8), "framestack")):
        cfg = DenoiserNetConfig(shape, base_channels=8, hidden=16)
        net = cfg.build()
        x = torch.zeros(2, *shape)
        assert cfg.kind == kind and net(x, torch.zeros(2)).shape == x.shape


def test_net_config_round_trip_with_a_given_unet():
    from sciffusion.common.networks.unet2d import UNet2DConfig

    unet = UNet2DConfig(in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention=(False, True))
    cfg = DenoiserNetConfig((1, 8, 8), unet=unet)
    back = DenoiserNetConfig(**cfg.to_dict())
    assert back == cfg and back.unet_config() == unet
    with pytest.raises(ValueError, match="needs 3 and 3"):
        DenoiserNetConfig((3, 8, 8), unet=unet).build()


def test_the_training_precision_is_kept_in_the_config_and_old_files_read_as_float32():
    config = DetectorConfig(precision="bf16-mixed")
    assert DetectorConfig.from_dict(config.to_dict()).precision == "bf16-mixed"
    assert DetectorConfig().precision == "auto"
    before = config.to_dict()
    del before["precision"]  # a file written before session 37, which trained in float32
    assert DetectorConfig.from_dict(before).precision == "32-true"
    with pytest.raises(ValueError, match="precision: must be one of auto, 32-true"):
        DetectorConfig(precision="half")
