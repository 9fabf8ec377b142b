"""Calibration: z-scoring, densities, thresholds (quantile, F1, manual, fallback), normalised score, round trip."""
import numpy as np
import pytest

from sciffusion.common.anomaly.calibration import Calibration, CalibrationConfig, calibrate
from sciffusion.common.anomaly.densities import DiagonalGMM, GaussianKDE, KNNDistance, fit_density


def _normal(n=400, f=3, seed=0):
    return np.random.default_rng(seed).normal(2.0, 0.5, size=(n, f))


@pytest.mark.parametrize("density", ["mean", "max", "softmax", "gmm", "kde", "knn"])
def test_far_point_scores_above_threshold_and_quantile_rule(density):
    feats = _normal()
    cal = calibrate(feats, CalibrationConfig(density=density, contamination=0.1))
    normal_scores = cal.density.score_reference(cal.zscore(feats))
    assert cal.threshold == pytest.approx(np.quantile(normal_scores, 0.9))
    assert np.mean(normal_scores > cal.threshold) == pytest.approx(0.1, abs=0.01)
    far, typical = cal.score(np.full((1, 3), 6.0)), cal.score(np.full((1, 3), 2.0))
    assert far[0] > cal.threshold > typical[0]  # and the centre of the normal data is below it
    assert cal.predict(far)[0] == 1 and cal.predict(typical)[0] == 0


def test_zscoring_is_per_feature():
    feats = _normal() * np.array([1.0, 100.0, 0.01])
    cal = calibrate(feats)
    z = cal.zscore(feats)
    assert np.allclose(z.mean(0), 0, atol=1e-12) and np.allclose(z.std(0), 1)


def test_normalised_score_is_monotone_and_half_at_threshold():
    cal = calibrate(_normal())
    s = np.linspace(cal.threshold - 10, cal.threshold + 10, 101)
    p = cal.normalise(s)
    assert cal.normalise(np.array([cal.threshold]))[0] == 0.5
    assert np.all(np.diff(p) > 0) and p.min() > 0 and p.max() < 1


def test_f1_threshold_and_its_quantile_fallback():
    feats = _normal()
    rng = np.random.default_rng(1)
    val = np.r_[_normal(100, seed=2), rng.normal(4.0, 0.5, size=(20, 3))]
    labels = np.r_[np.zeros(100), np.ones(20)]
    cfg = CalibrationConfig(density="mean", threshold="f1", contamination=0.05)
    cal = calibrate(feats, cfg, val_features=val, val_labels=labels)
    assert cal.threshold_source == "f1"
    assert np.mean(cal.predict(cal.score(val)) == labels) > 0.95
    from sciffusion.common.anomaly.metrics import f1_max

    best = f1_max(cal.score(val), labels)[0]  # predict (score > threshold) reaches F1-max: the lowest anomaly counts
    pred = cal.predict(cal.score(val))
    assert 2 * np.sum(pred * labels) / (pred.sum() + labels.sum()) == pytest.approx(best)
    tied = calibrate(feats, cfg, val_features=np.r_[val[:100], np.repeat(val[-1:], 20, 0)], val_labels=labels)
    assert tied.predict(tied.score(val[-1:])).tolist() == [1]  # identical anomalies: all above the threshold
    no_anomalies = calibrate(feats, cfg, val_features=val[:100], val_labels=labels[:100])
    assert no_anomalies.threshold_source.startswith("quantile")
    normal_scores = no_anomalies.score(feats)
    assert no_anomalies.threshold == pytest.approx(np.quantile(normal_scores, 0.95))
    assert no_anomalies.threshold > normal_scores.min()  # never the minimum score


def test_manual_threshold_and_config_errors():
    cal = calibrate(_normal(), CalibrationConfig(density="mean", threshold="manual", manual_threshold=1.5))
    assert cal.threshold == 1.5 and cal.threshold_source == "manual"
    with pytest.raises(ValueError, match="manual_threshold"):
        CalibrationConfig(threshold="manual")
    with pytest.raises(ValueError, match="contamination"):
        CalibrationConfig(contamination=0.0)
    with pytest.raises(ValueError, match="N >= 2"):
        calibrate(np.zeros((1, 3)))


@pytest.mark.parametrize("density", ["mean", "max", "softmax", "gmm", "kde", "knn"])
def test_round_trip(density):
    feats = _normal()
    cal = calibrate(feats, CalibrationConfig(density=density))
    back = Calibration.from_dict(cal.to_dict())
    probe = _normal(10, seed=5)
    assert np.array_equal(cal.score(probe), back.score(probe)) and back.threshold == cal.threshold


def test_densities_see_two_clusters():
    rng = np.random.default_rng(0)
    z = np.r_[rng.normal(-3, 0.3, (200, 2)), rng.normal(3, 0.3, (200, 2))]
    between, inside = np.zeros((1, 2)), np.full((1, 2), 3.0)
    for model in (DiagonalGMM.fit(z, 2), GaussianKDE.fit(z), KNNDistance(z, 5)):  # 400 points: 2 components allowed
        assert model.score(between)[0] > model.score(inside)[0] + 1
    # the mean of z cannot see the gap: negative control for the density models
    assert fit_density("mean", z).score(between)[0] < fit_density("mean", z).score(inside)[0]


def test_knn_reference_scores_leave_one_out():
    z = np.random.default_rng(0).normal(size=(50, 2))
    knn = KNNDistance(z, 1)
    assert np.allclose(knn.score(z), 0, atol=1e-6) and np.all(knn.score_reference(z) > 1e-3)


def test_softmax_is_a_smooth_max_that_counts_features_departing_together():
    """log Σ exp(z): between max(z) and max(z) + log F; equal order to max where one feature dominates; an input
    where two features depart together outranks one where a single feature departs as far (max ties them)."""
    from sciffusion.common.anomaly.densities import MaxZ, SoftMaxZ, density_from_dict

    z = np.random.default_rng(3).normal(size=(200, 4))
    soft, hard = SoftMaxZ().score(z), MaxZ().score(z)
    assert np.all(soft >= hard) and np.all(soft <= hard + np.log(4) + 1e-12)
    one, two = np.array([[4.0, 0.0, 0.0, 0.0]]), np.array([[4.0, 4.0, 0.0, 0.0]])
    assert MaxZ().score(one)[0] == MaxZ().score(two)[0] and SoftMaxZ().score(two)[0] > SoftMaxZ().score(one)[0]
    assert SoftMaxZ().score(np.array([[50.0, 0.0]]))[0] == pytest.approx(50.0)  # far out it is the max
    assert isinstance(density_from_dict(SoftMaxZ().to_dict()), SoftMaxZ)
