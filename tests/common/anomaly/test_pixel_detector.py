"""The detector with no network (score ``pixels``): PyOD's conventions, what it sees and what it cannot,
maps and frame scores, files, errors, and its place in an ensemble beside a diffusion member."""
import numpy as np
import pytest
import torch

from sciffusion.common.anomaly import (CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, EnsembleConfig,
                                       EnsembleDetector, PixelGaussianDetector, ScoreConfig, load_any_detector,
                                       make_detector)
from sciffusion.common.anomaly.embedding import pixel_distances, pixel_neighbourhood_maps
from sciffusion.common.anomaly.positional import PositionStatistics
from sciffusion.common.anomaly.networks import DenoiserNetConfig


def _config(**kw):
    return DetectorConfig(score=ScoreConfig(kind="pixels", levels=1), calibration=CalibrationConfig(density="mean"),
                          holdout_fraction=0.25, **kw)


@pytest.fixture(scope="module")
def motion(motion_clips):
    g = torch.Generator().manual_seed(3)
    x = motion_clips(80, False, g).numpy()
    det = PixelGaussianDetector(config=_config()).fit(x)
    return det, x, lambda n, backwards: motion_clips(n, backwards, g).numpy()


def test_pyod_conventions_with_no_model_call(motion):
    det, x, _ = motion
    assert det.score_name == "pixels" and det.sample_shape == (1, 5, 16, 16) and det.working_shape == (1, 5, 16, 16)
    assert det.decision_scores_.shape == (80,)
    assert np.array_equal(det.labels_, det.decision_scores_ > det.threshold_)
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.9))  # contamination 0.1
    assert det.fit_report_.steps == 0 and det.fit_report_.inputs == 60  # 20 of 80 held out
    proba = det.predict_proba(x[:4])
    assert proba.shape == (4, 2) and np.allclose(proba.sum(1), 1)
    assert det.score_samples(x[:3]).nfe == 0
    assert make_detector(_config()).__class__ is PixelGaussianDetector
    plain = PixelGaussianDetector(contamination=0.05).fit(x)  # PyOD style: no config needed
    assert plain.threshold_ == pytest.approx(np.quantile(plain.calibration_scores_, 0.95))
    assert plain.config.score.kind == "pixels" and plain.config.holdout_fraction == 0.2
    assert plain.fit_report_.inputs == 64  # 16 of 80 held out


def test_the_gaussians_are_those_of_the_training_part_and_the_score_their_peak_distance(motion):
    """The Gaussians equal ones fitted by hand on the training part (the same split as a diffusion
    detector's: seed and holdout fraction); the score is the largest distance over places and frames."""
    det, x, _ = motion
    order = torch.randperm(80, generator=torch.Generator().manual_seed(0))
    train = torch.from_numpy(x)[order[20:]]
    stats = PositionStatistics()
    stats.add(pixel_neighbourhood_maps(train))
    manual = stats.finish()
    assert torch.allclose(det.gaussians_.mean, manual.mean, atol=1e-6)
    test = torch.from_numpy(x[:6])
    expected = pixel_distances(test, manual).amax((1, 2)).double()
    assert torch.allclose(det.score_samples(x[:6]).features[:, 0], expected, rtol=1e-5)


def test_motion_the_wrong_way_is_separated_and_the_map_says_where(motion):
    det, _, clips = motion
    normal, backwards = clips(12, False), clips(12, True)
    assert det.decision_function(backwards).min() > det.decision_function(normal).max()
    broken = det.score_samples(backwards)
    assert broken.map.shape == (12, 5, 16, 16) and broken.frames.shape == (12, 5)
    rows = broken.map[:, 2].mean(2)  # [B, H]: the square's rows (6-8), not the empty ones
    assert (rows[:, 5:10].mean(1) > 2 * rows[:, 12:].mean(1)).all()
    assert torch.equal(broken.frames[:, 0], broken.frames[:, 1])  # frame 0 has no change of its own


def test_negative_control_a_layout_that_moves_everywhere_is_not_seen():
    """Digits-like content anywhere: normal squares in random rows and columns, anomalous ones a different
    size in random places too. No place has one normal look, so the pixel Gaussians cannot tell them apart
    much better than chance (the diffusion members are for this)."""
    g = torch.Generator().manual_seed(5)

    def anywhere(n, side):
        x = -torch.ones(n, 1, 16, 16)
        for i in range(n):
            r, c = (int(v) for v in torch.randint(0, 16 - side + 1, (2,), generator=g))
            x[i, 0, r:r + side, c:c + side] = 1.0
        return x.numpy()

    det = PixelGaussianDetector(config=_config()).fit(anywhere(200, 4))
    normal, odd = det.decision_function(anywhere(40, 4)), det.decision_function(anywhere(40, 3))
    from sciffusion.common.anomaly.metrics import auroc

    assert auroc(np.r_[normal, odd], np.r_[np.zeros(40), np.ones(40)]) < 0.75
    assert det.score_samples(anywhere(2, 4)).map.shape == (2, 16, 16) and det.score_samples(anywhere(2, 4)).frames is None


def test_files_round_trip_and_errors(motion, tmp_path):
    det, x, _ = motion
    det.save(tmp_path / "p.pt")
    again = load_any_detector(tmp_path / "p.pt")
    assert isinstance(again, PixelGaussianDetector) and again.sample_shape == det.sample_shape
    assert np.allclose(again.decision_function(x[:8]), det.decision_function(x[:8]))
    assert again.threshold_ == det.threshold_
    with pytest.raises(ValueError, match=r"inputs of shape \[1, 4, 16, 16\], the detector was fitted on"):
        det.score_samples(x[:, :, :4])
    with pytest.raises(ValueError, match="needs images"):
        PixelGaussianDetector(config=_config()).fit(np.zeros((10, 6), np.float32))
    with pytest.raises(ValueError, match="identical"):
        PixelGaussianDetector(config=_config()).fit(np.zeros((10, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="not fitted"):
        PixelGaussianDetector(config=_config()).decision_function(x[:2])
    with pytest.raises(ValueError, match="uses no network"):
        DiffusionAnomalyDetector(config=_config())
    with pytest.raises(ValueError, match="scores 'pixels'"):
        PixelGaussianDetector(config=DetectorConfig())
    assert ScoreConfig(kind="pixels", levels=1).nfe == 0


def test_in_an_ensemble_it_shares_the_split_decides_when_furthest_from_normal_and_round_trips(motion, tmp_path):
    """features + pixels on the same clips: the pixel member is calibrated on the same held-out clips,
    adds no model call, gets no network (nor the given weights), and the ensemble's max-of-z flags the
    backwards clips that only the pixels see; saved and loaded as one file."""
    _, x, clips = motion
    features = DetectorConfig(score=ScoreConfig(kind="features", levels=1, pixels=False),
                              calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=2, batch_size=16,
                              holdout_fraction=0.25)
    config = EnsembleConfig((features, _config()), CalibrationConfig(density="max"))
    det = EnsembleDetector(config=config).fit(x, net_config=DenoiserNetConfig((1, 5, 16, 16), base_channels=8))
    assert det.score_name == "features+pixels" and isinstance(det.members_[1], PixelGaussianDetector)
    assert det.fit_report_.steps == 2 and det.fit_report_.stopped_by.endswith("+no training")
    pixel_alone = PixelGaussianDetector(config=_config()).fit(x)
    assert np.allclose(det.members_[1].calibration_scores_, pixel_alone.calibration_scores_)  # the same split
    normal, backwards = clips(12, False), clips(12, True)
    raw = det.score_samples(backwards)
    assert raw.nfe == 1 and raw.names == ("features", "pixels")
    assert det.decision_function(backwards).min() > det.decision_function(normal).max()
    assert raw.map.shape == (12, 5, 16, 16)
    det.save(tmp_path / "e.pt")
    again = load_any_detector(tmp_path / "e.pt")
    assert isinstance(again.members_[1], PixelGaussianDetector)
    assert np.allclose(again.decision_function(backwards), det.decision_function(backwards))


def test_an_ensemble_file_holds_the_pixel_gaussians_its_members_share_once(motion, tmp_path):
    """features (with its pixel feature) + pixels fit the same per-position Gaussians on the same training
    clips: the file keeps one copy and a reference, loads back to equal Gaussians and the same scores; a
    bank whose Gaussians differ keeps its own; a reference to a member with none is a one-line error."""
    from sciffusion.common.anomaly.ensemble import SHARED_KEY, _restore_shared_gaussians, _shared_gaussians
    from sciffusion.common.io.checkpoint import load_checkpoint

    _, x, clips = motion
    features = DetectorConfig(score=ScoreConfig(kind="features", levels=1, pixels=True),
                              calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=2, batch_size=16,
                              holdout_fraction=0.25)
    det = EnsembleDetector(config=EnsembleConfig((features, _config()), CalibrationConfig(density="max"))).fit(
        x, net_config=DenoiserNetConfig((1, 5, 16, 16), base_channels=8))
    bank_pixels, member_pixels = det.members_[0].bank_.pixels, det.members_[1].gaussians_
    assert torch.equal(bank_pixels.mean, member_pixels.mean) and torch.equal(bank_pixels.precision,
                                                                              member_pixels.precision)
    det.save(tmp_path / "shared.pt")
    saved = load_checkpoint(tmp_path / "shared.pt")
    assert saved["members"][0]["bank"]["pixels"] == {SHARED_KEY: 1}
    again = load_any_detector(tmp_path / "shared.pt")
    assert torch.equal(again.members_[0].bank_.pixels.precision, member_pixels.precision)
    probe = clips(6, True)
    assert np.allclose(again.decision_function(probe), det.decision_function(probe))
    states = [m.state() for m in det.members_]
    states[0]["bank"]["pixels"]["mean"] = states[0]["bank"]["pixels"]["mean"] + 1.0  # a bank fitted on other inputs
    assert "mean" in _shared_gaussians(states)[0]["bank"]["pixels"]
    broken = _shared_gaussians([m.state() for m in det.members_])
    broken[1] = {**broken[1], "gaussians": None}
    with pytest.raises(ValueError, match=r"e\.pt \(member 0\): its pixel Gaussians refer to member 1, which has none"):
        _restore_shared_gaussians(broken, "e.pt")
