"""The ``statistics`` score (one Gaussian of whole-input pixel statistics, no network): the statistics on
closed forms, invariance to the inputs' units, what it sees that the per-place scores cannot (an object
missing, a clip frozen) with the per-place pixels as the negative control, files, and its place in an
ensemble."""
import numpy as np
import pytest
import torch

from sciffusion.common.anomaly import (CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, EnsembleConfig,
                                       EnsembleDetector, PixelGaussianDetector, ScoreConfig, load_any_detector,
                                       make_detector)
from sciffusion.common.anomaly.metrics import auroc
from sciffusion.common.anomaly.pixel_detector import default_pixel_config
from sciffusion.common.anomaly.pixel_statistics import pixel_statistics, statistics_gaussian, statistics_scores


def squares(n, count, g, frames=6, size=16, frozen=False):
    """[n, 1, T, H, W] in [-1, 1]: ``count`` bright 3 × 3 squares per clip, each from a random place moving
    one pixel per frame in a random direction (wrapping round the frame): the layout varies, so no place
    has one normal look. ``frozen``: every frame is the first."""
    clips = -torch.ones(n, 1, frames, size, size)
    for i in range(n):
        for _ in range(count):
            r, c = (int(v) for v in torch.randint(0, size, (2,), generator=g))
            dr, dc = (int(v) for v in torch.randint(-1, 2, (2,), generator=g))
            for t in range(frames):
                rows = [(r + dr * (0 if frozen else t) + k) % size for k in range(3)]
                cols = [(c + dc * (0 if frozen else t) + k) % size for k in range(3)]
                clips[i, 0, t, np.ix_(rows, cols)[0], np.ix_(rows, cols)[1]] = 1.0
    return clips


def _config(kind="statistics"):
    return DetectorConfig(score=ScoreConfig(kind=kind, levels=1), calibration=CalibrationConfig(density="mean"),
                          holdout_fraction=0.25)


@pytest.fixture(scope="module")
def fitted():
    g = torch.Generator().manual_seed(11)
    x = squares(240, 2, g).numpy()
    return PixelGaussianDetector(config=_config()).fit(x), x, g


def test_the_statistics_on_closed_forms():
    """A constant image: mean its value, spread 0; a clip that alternates two constant frames: the change
    is their difference everywhere, its spread 0; a still clip has no change."""
    image = torch.full((2, 3, 4, 5), 0.25)
    assert torch.allclose(pixel_statistics(image), torch.tensor([[0.25] * 3 + [0.0] * 3] * 2, dtype=torch.float64))
    clip = torch.zeros(1, 1, 4, 8, 8)
    clip[:, :, 1::2] = 0.5  # 0, 0.5, 0, 0.5
    assert torch.allclose(pixel_statistics(clip), torch.tensor([[0.25, 0.25, 0.5, 0.0]], dtype=torch.float64))
    still = torch.rand(3, 2, 5, 6, 6).expand(3, 2, 5, 6, 6).clone()
    still[:, :, 1:] = still[:, :, :1]
    assert pixel_statistics(still).shape == (3, 8) and torch.all(pixel_statistics(still)[:, 4:] == 0)
    assert pixel_statistics(torch.rand(2, 1, 1, 4, 4)).shape == (2, 2)  # one frame: no change to read
    with pytest.raises(ValueError, match="need"):
        pixel_statistics(torch.zeros(2, 16))


def test_the_distance_does_not_depend_on_the_inputs_units():
    """The statistics are standardised before the Gaussian's ridge is added, so rescaling and shifting every
    input alike (other units, another exposure) leaves every distance as it was."""
    g = torch.Generator().manual_seed(2)
    x = squares(60, 2, g)
    x[:, :, :, :8] *= 0.5  # statistics of different spreads
    test = squares(10, 1, g)
    base = statistics_scores(test, statistics_gaussian(x[:40])).score
    moved = statistics_scores(0.25 * test + 0.1, statistics_gaussian(0.25 * x[:40] + 0.1)).score
    assert torch.allclose(base, moved, rtol=1e-3)


def test_a_statistic_with_a_tiny_spread_still_counts():
    """Images whose first channel's level varies over [-1, 1] and whose second varies by 1e-3: an image whose
    second channel is 10 of its spreads off is the furthest from normal (the ridge is added after
    standardising, so it does not swamp the small statistic)."""
    g = torch.Generator().manual_seed(4)

    def images(n, offset=0.0):
        x = torch.empty(n, 2, 4, 4)
        x[:, 0] = (torch.rand(n, 1, 1, generator=g) * 2 - 1)
        x[:, 1] = 1e-3 * torch.randn(n, 1, 1, generator=g) + offset
        return x

    gaussian = statistics_gaussian(images(400))
    normal, odd = statistics_scores(images(50), gaussian).score, statistics_scores(images(5, 1e-2), gaussian).score
    assert odd.min() > normal.max()


def test_a_missing_object_a_surplus_one_and_a_frozen_clip_are_seen_where_the_places_see_nothing(fitted):
    """Two squares anywhere are normal. One square (missing), three (extra) and a frozen clip all score above
    the normal ones; the per-place pixel Gaussians, fitted on the same clips, rank the missing square as
    more normal than normal (the negative control: why this score exists)."""
    det, x, g = fitted
    normal = det.decision_function(squares(60, 2, g).numpy())
    labels = np.r_[np.zeros(60), np.ones(60)]
    for name, odd in {"missing": squares(60, 1, g), "extra": squares(60, 3, g),
                      "frozen": squares(60, 2, g, frozen=True)}.items():
        assert auroc(np.r_[normal, det.decision_function(odd.numpy())], labels) > 0.9, name
    places = PixelGaussianDetector(config=_config("pixels")).fit(x)
    missing = squares(60, 1, g).numpy()
    assert auroc(np.r_[places.decision_function(squares(60, 2, g).numpy()), places.decision_function(missing)],
                 labels) < 0.5


def test_pyod_conventions_files_and_errors(fitted, tmp_path):
    det, x, _ = fitted
    assert det.score_name == "statistics" and det.fit_report_.inputs == 180 and det.fit_report_.steps == 0
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.9))
    assert np.array_equal(det.labels_, det.decision_scores_ > det.threshold_)
    raw = det.score_samples(x[:3])
    assert raw.nfe == 0 and raw.names == ("statistics",) and raw.map is None and raw.frames is None
    assert det.gaussians_.mean.shape == (1, 1, 4) and det.gaussians_.precision.shape == (1, 1, 4, 4)
    det.save(tmp_path / "s.pt")
    again = load_any_detector(tmp_path / "s.pt")
    assert isinstance(again, PixelGaussianDetector) and again.score_name == "statistics"
    assert np.allclose(again.decision_function(x[:8]), det.decision_function(x[:8]))
    assert make_detector(default_pixel_config("statistics")).__class__ is PixelGaussianDetector
    assert ScoreConfig(kind="statistics", levels=1).nfe == 0
    with pytest.raises(ValueError, match="uses no network"):
        DiffusionAnomalyDetector(config=_config())
    with pytest.raises(ValueError, match="the statistics score needs images"):
        PixelGaussianDetector(config=_config()).fit(np.zeros((10, 6), np.float32))


def test_in_an_ensemble_beside_the_pixels_it_decides_on_what_only_it_sees(fitted):
    """pixels + statistics, both without a network: one split, no model call, and max-of-z flags the
    missing squares that only the statistics see; the map is the pixels member's (the only one with a map)."""
    _, x, g = fitted
    config = EnsembleConfig((_config("pixels"), _config()), CalibrationConfig(density="max"))
    det = EnsembleDetector(config=config).fit(x)
    assert det.score_name == "pixels+statistics" and det.fit_report_.steps == 0
    normal, missing = squares(60, 1 + 1, g).numpy(), squares(60, 1, g).numpy()
    assert auroc(np.r_[det.decision_function(normal), det.decision_function(missing)],
                 np.r_[np.zeros(60), np.ones(60)]) > 0.85
    raw = det.score_samples(missing[:4])
    assert raw.nfe == 0 and raw.names == ("pixels", "statistics") and raw.map.shape == (4, 6, 16, 16)
