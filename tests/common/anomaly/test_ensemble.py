"""The ensemble detector: members on one split, one calibration over their scores, PyOD's conventions,
files, and the routing of a given network to the members that can use it."""
import dataclasses

import numpy as np
import pytest
import torch

from sciffusion.common.anomaly import (CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, EnsembleConfig,
                                       EnsembleDetector, ScoreConfig, load_any_detector)
from sciffusion.common.anomaly.ensemble import _member_network
from sciffusion.common.anomaly.networks import DenoiserNetConfig

NET = DenoiserNetConfig((2,), hidden=32, blocks=1)


def _member(kind, **kw):
    return DetectorConfig(score=ScoreConfig(kind=kind, levels=3, sigma_min=0.05, sigma_max=1.0),
                          calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=80, batch_size=64,
                          holdout_fraction=0.25, **kw)


@pytest.fixture(scope="module")
def fitted():
    x = np.random.default_rng(0).normal(0, 0.5, size=(240, 2)).astype(np.float32)
    config = EnsembleConfig((_member("msma"), _member("path")), CalibrationConfig(density="max", contamination=0.1))
    return EnsembleDetector(config=config).fit(x, net_config=NET), x


def test_pyod_conventions_and_one_calibration(fitted):
    det, x = fitted
    assert det.score_name == "msma+path" and det.sample_shape == (2,)
    assert det.decision_scores_.shape == (240,) and np.array_equal(det.labels_, (det.decision_scores_ > det.threshold_))
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.9))
    # the members were calibrated on the same held-out inputs, and the ensemble on their scores
    hold = np.stack([m.calibration_scores_ for m in det.members_], 1)
    assert hold.shape == (60, 2)
    z = (hold - hold.mean(0)) / hold.std(0)
    assert np.allclose(det.calibration_scores_, z.max(1))  # density max: the member furthest from normal decides
    far = np.full((4, 2), 4.0, dtype=np.float32)
    raw = det.score_samples(far)
    assert raw.names == ("msma", "path") and raw.nfe == 6  # NFE: the members' summed
    members = np.stack([m.decision_function(far) for m in det.members_], 1)
    assert np.allclose(raw.features.numpy(), members)
    # the map: per input, the deciding member's (largest z), in units of its mean |map| on the held-out inputs
    deciding = det.calibration_.zscore(members).argmax(1)
    maps = [m.score_samples(far).map / m.map_scale_ for m in det.members_]
    assert all(m.map_scale_ > 0 for m in det.members_)
    assert torch.allclose(raw.map, torch.stack([maps[k][i] for i, k in enumerate(deciding)]))
    assert raw.frames is None  # vectors have no frames
    # frame scores of clips go the same way: the deciding member's, in units of its own frame scale
    frames = [torch.rand(4, 3, generator=torch.Generator().manual_seed(j)) for j in range(2)]
    for member, scale in zip(det.members_, (2.0, 0.5)):
        member.frame_scale_ = scale
    picked = det._deciding(members, frames, "frame_scale_")
    assert torch.allclose(picked, torch.stack([frames[k][i] / (2.0, 0.5)[k] for i, k in enumerate(deciding)]))
    assert torch.equal(det._deciding(members, [None, frames[1]], "frame_scale_"), frames[1] / 0.5)
    assert det._deciding(members, [None, None], "frame_scale_") is None
    for member in det.members_:
        member.frame_scale_ = None
    assert (det.decision_function(far) > np.quantile(det.decision_scores_, 0.99)).all()
    assert det.predict(far).tolist() == [1] * 4
    proba = det.predict_proba(np.r_[far, x[:4]])
    assert np.allclose(proba.sum(1), 1) and (proba[:4, 1] > 0.5).all()
    report = det.fit_report_
    assert report.steps == sum(m.fit_report_.steps for m in det.members_) and "+" in report.stopped_by


def test_save_load_round_trip(fitted, tmp_path):
    det, x = fitted
    back = load_any_detector(det.save(tmp_path / "ens.pt"))
    assert isinstance(back, EnsembleDetector) and back.threshold_ == det.threshold_
    assert np.allclose(back.decision_function(x[:16]), det.decision_function(x[:16]), atol=1e-10)
    single = load_any_detector(det.members_[0].save(tmp_path / "one.pt"))
    assert isinstance(single, DiffusionAnomalyDetector) and single.score_name == "msma"
    with pytest.raises(ValueError, match="shape"):
        back.decision_function(np.zeros((3, 5), dtype=np.float32))


def test_config_errors():
    with pytest.raises(ValueError, match="two distinct"):
        EnsembleConfig((_member("msma"),))
    with pytest.raises(ValueError, match="two distinct"):
        EnsembleConfig((_member("msma"), _member("msma")))
    with pytest.raises(ValueError, match="share seed"):
        EnsembleConfig((_member("msma"), _member("path", seed=1)))
    cfg = EnsembleConfig((_member("msma"), _member("recon")))
    assert EnsembleConfig.from_dict(cfg.to_dict()) == cfg and cfg.nfe_for((2,)) == 6
    with pytest.raises(ValueError, match="not fitted"):
        EnsembleDetector(config=cfg).decision_function(np.zeros((2, 2)))


def test_a_given_network_goes_to_the_members_that_use_it():
    shape = (1, 4, 8, 8)
    plain, context = DenoiserNetConfig(shape, base_channels=8), DenoiserNetConfig(shape, base_channels=8,
                                                                                   context_frames=3)
    features = DiffusionAnomalyDetector(config=_member("features"))
    predictive = DiffusionAnomalyDetector(config=dataclasses.replace(_member("predictive"), score=ScoreConfig(
        kind="predictive", levels=1, sigma_min=2.0, sigma_max=8.0, context_frames=3)))
    assert _member_network(features, plain, shape) == (plain, True)
    assert _member_network(predictive, context, shape) == (context, True)
    fresh, takes = _member_network(features, context, shape)  # a context denoiser serves no features score
    assert not takes and fresh.context_frames == 0 and fresh.base_channels == 8
    assert _member_network(predictive, plain, shape)[1] is False  # a plain network would need new input channels
    x = torch.rand(8, *shape) * 2 - 1
    ens = EnsembleDetector(config=EnsembleConfig((_member("features"), _member("msma"))))
    with pytest.raises(ValueError, match="serves none"):
        ens.fit(x, net_config=context, init_state=context.build().state_dict())


def test_f1_threshold_from_labelled_validation_inputs():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.5, size=(120, 2)).astype(np.float32)
    val = np.r_[rng.normal(0, 0.5, size=(20, 2)), np.full((5, 2), 4.0)].astype(np.float32)
    config = EnsembleConfig((dataclasses.replace(_member("msma"), max_steps=20),
                             dataclasses.replace(_member("path"), max_steps=20)),
                            CalibrationConfig(density="mean", threshold="f1"))
    calls = []
    det = EnsembleDetector(config=config).fit(x, net_config=NET, val_X=val, val_y=np.r_[np.zeros(20), np.ones(5)],
                                              on_score_batch=lambda n, total: calls.append((n, total)))
    assert det.calibration_.threshold_source == "f1"
    assert det.predict(val[-5:]).tolist() == [1] * 5
    # every scored batch (each member: held-out part and all of X; then the validation set) against one total
    assert sum(n for n, _ in calls) == 2 * (30 + 120) + 2 * 25 and {t for _, t in calls} == {2 * (30 + 120) + 2 * 25}


def test_every_member_trains_before_any_scores(monkeypatch):
    """A progress display of the scoring stage must not be open while a later member trains."""
    from sciffusion.common.anomaly import detector as detector_module

    events, train = [], detector_module.train_denoiser

    def recording_train(*args, **kwargs):
        events.append("train")
        return train(*args, **kwargs)

    monkeypatch.setattr(detector_module, "train_denoiser", recording_train)
    config = EnsembleConfig((dataclasses.replace(_member("msma"), max_steps=5),
                             dataclasses.replace(_member("path"), max_steps=5)))
    x = np.random.default_rng(4).normal(0, 0.5, size=(40, 2)).astype(np.float32)
    EnsembleDetector(config=config).fit(x, net_config=NET, on_score_batch=lambda n, total: events.append("score"))
    assert events[:2] == ["train", "train"] and set(events[2:]) == {"score"}


def test_recombined_refits_only_the_combination(fitted, tmp_path):
    det, x = fitted
    other = det.recombined("mean")
    hold = np.stack([m.calibration_scores_ for m in det.members_], 1)
    z = (hold - hold.mean(0)) / hold.std(0)
    assert np.allclose(other.calibration_scores_, z.mean(1))  # mean of the members' z on the same held-out part
    assert other.config.calibration.density == "mean" and det.config.calibration.density == "max"  # the original kept
    assert np.allclose(det.calibration_scores_, z.max(1))
    assert other.members_ == det.members_ and other.members_ is not det.members_
    assert other.threshold_ == pytest.approx(np.quantile(other.calibration_scores_, 0.9))
    members = np.stack([m.decision_scores_ for m in det.members_], 1)
    assert np.allclose(other.decision_scores_, ((members - hold.mean(0)) / hold.std(0)).mean(1))
    assert np.array_equal(other.labels_, other.decision_scores_ > other.threshold_)
    new = det.score_samples(x[:8]).features.numpy()
    assert np.allclose(other.decision_function(x[:8]), ((new - hold.mean(0)) / hold.std(0)).mean(1))
    assert np.allclose(det.recombined("max").decision_function(x[:8]), det.decision_function(x[:8]))  # same rule: same
    with pytest.raises(ValueError, match="density"):
        det.recombined("softest")
    f1 = EnsembleDetector(config=dataclasses.replace(det.config, calibration=CalibrationConfig(
        density="max", threshold="f1")))
    f1.members_, f1.calibration_ = det.members_, det.calibration_
    with pytest.raises(ValueError, match="f1"):
        f1.recombined("mean")
    back = load_any_detector(det.save(tmp_path / "ens.pt"))
    with pytest.raises(ValueError, match="loaded detector"):
        back.recombined("mean")
    unfitted = EnsembleDetector(config=det.config)
    with pytest.raises(ValueError, match="not fitted"):
        unfitted.recombined("mean")
