"""The working resolution (common/anomaly/resolution.py) and a detector that works below its inputs' size."""
import dataclasses

import numpy as np
import pytest
import torch

from sciffusion.common.anomaly import CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, ScoreConfig
from sciffusion.common.anomaly.resolution import (ReducedInputs, check_working_shape, map_to_input, reduce_chunks,
                                                  to_working, working_shape)


def test_working_shape_keeps_aspect_and_small_inputs():
    assert working_shape((3, 256, 256), 64) == (3, 64, 64)
    assert working_shape((1, 8, 240, 360), 64) == (1, 8, 40, 64)  # aspect kept, multiples of 8, frames kept
    assert working_shape((1, 28, 28), 64) == (1, 28, 28)  # already small: untouched (MNIST)
    assert working_shape((3, 64, 64), 64) == (3, 64, 64)
    assert working_shape((3, 100, 30), 64) == (3, 64, 16)
    assert working_shape((3, 512, 9), 64) == (3, 64, 8)  # never below 8 px, never above the input
    assert working_shape((3, 256, 256), None) == (3, 256, 256) and working_shape((700,), 64) == (700,)
    with pytest.raises(ValueError, match="max_side: must be >= 8"):
        working_shape((3, 256, 256), 4)


def test_resizing_averages_and_maps_come_back_to_the_input_size():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float64).reshape(2, 3, 4, 4)
    small = to_working(x, (3, 2, 2))
    assert small.shape == (2, 3, 2, 2)
    assert small[0, 0, 0, 0] == x[0, 0, :2, :2].mean() and small[1, 2, 1, 1] == x[1, 2, 2:, 2:].mean()
    clips = torch.randn(2, 1, 5, 16, 16)
    assert torch.equal(to_working(clips, (1, 5, 8, 8))[:, :, 3], to_working(clips[:, :, 3], (1, 8, 8)))
    assert to_working(x, (3, 4, 4)) is x
    dense = torch.rand(2, 5, 8, 8)
    assert map_to_input(dense, (16, 16)).shape == (2, 5, 16, 16) and map_to_input(None, (4, 4)) is None
    constant = torch.full((1, 4, 4), 2.5)
    assert torch.allclose(map_to_input(constant, (12, 12)), torch.full((1, 12, 12), 2.5))
    check_working_shape((3, 64, 64), (3, 32, 32))
    for bad in ((3, 128, 64), (1, 32, 32), (3, 4, 32, 32)):
        with pytest.raises(ValueError, match="the network works on"):
            check_working_shape((3, 64, 64), bad)


def _images(n, rng, bright=False):
    x = rng.normal(-0.5, 0.1, (n, 1, 48, 48)).astype(np.float32)
    if bright:
        x[:, :, 16:32, 16:32] = 0.9
    return x


def test_a_detector_fits_at_its_working_size_and_answers_at_the_inputs():
    rng = np.random.default_rng(0)
    config = DetectorConfig(score=ScoreConfig(kind="msma", levels=2, sigma_min=0.1, sigma_max=0.5),
                            calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=3, batch_size=8,
                            max_side=16)
    det = DiffusionAnomalyDetector(config=config).fit(_images(40, rng))
    assert det.sample_shape == (1, 48, 48) and det.working_shape == (1, 16, 16)
    scores = det.score_samples(np.r_[_images(4, rng), _images(4, rng, bright=True)])
    assert scores.map.shape == (8, 48, 48)  # maps at the inputs' size
    with pytest.raises(ValueError, match=r"inputs of shape \[1, 16, 16\], the detector was fitted on \[1, 48, 48\]"):
        det.score_samples(_images(2, rng)[:, :, :16, :16])
    full = DiffusionAnomalyDetector(config=dataclasses.replace(config, max_side=None)).fit(_images(40, rng))
    assert full.working_shape == (1, 48, 48)


def test_detector_files_keep_the_input_shape_and_older_files_load_at_one_size(tmp_path):
    rng = np.random.default_rng(1)
    config = DetectorConfig(score=ScoreConfig(kind="msma", levels=2, sigma_min=0.1, sigma_max=0.5),
                            calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=2, batch_size=8,
                            max_side=16)
    det = DiffusionAnomalyDetector(config=config).fit(_images(30, rng))
    x = _images(5, rng)
    loaded = DiffusionAnomalyDetector.load(det.save(tmp_path / "d.pt"))
    assert loaded.sample_shape == (1, 48, 48) and loaded.working_shape == (1, 16, 16)
    assert np.allclose(loaded.decision_function(x), det.decision_function(x))
    old = det.state()
    del old["input_shape"], old["config"]["max_side"]  # a file written before the working resolution
    old["net"]["sample_shape"] = [1, 48, 48]
    older = DiffusionAnomalyDetector.from_state(old)
    assert older.sample_shape == older.working_shape == (1, 48, 48) and older.config.max_side is None


def test_inputs_reduced_by_the_caller_score_as_inputs_reduced_by_the_detector():
    """A set reduced chunk by chunk (ReducedInputs) trains and scores as the same set at full size."""
    rng = np.random.default_rng(2)
    config = DetectorConfig(score=ScoreConfig(kind="msma", levels=2, sigma_min=0.1, sigma_max=0.5),
                            calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=2, batch_size=8,
                            max_side=16)
    x = _images(30, rng)
    test = np.r_[_images(3, rng), _images(3, rng, bright=True)]
    reduced = ReducedInputs(reduce_chunks(torch.split(torch.from_numpy(x), 7), (1, 16, 16)), (1, 48, 48))
    assert len(reduced) == 30 and reduced.held_shape == (1, 16, 16)
    assert torch.allclose(reduced.x, to_working(torch.from_numpy(x), (1, 16, 16)), atol=1e-6)
    full = DiffusionAnomalyDetector(config=config).fit(x)
    small = DiffusionAnomalyDetector(config=config).fit(reduced)
    assert small.sample_shape == (1, 48, 48) and small.working_shape == (1, 16, 16)
    assert np.allclose(small.decision_scores_, full.decision_scores_, rtol=1e-3, atol=1e-4)
    test_reduced = ReducedInputs(to_working(torch.from_numpy(test), (1, 16, 16)), (1, 48, 48))
    assert np.allclose(small.decision_function(test_reduced), small.decision_function(test), rtol=1e-4, atol=1e-5)
    assert small.score_samples(test_reduced).map.shape == (6, 48, 48)  # maps at the inputs' own size
    # negative controls: held at a size the network does not work at, or of other inputs
    with pytest.raises(ValueError, match=r"held at \[1, 24, 24\], the detector works on \[1, 16, 16\]"):
        small.score_samples(ReducedInputs(to_working(torch.from_numpy(test), (1, 24, 24)), (1, 48, 48)))
    with pytest.raises(ValueError, match=r"inputs of shape \[1, 32, 32\], the detector was fitted on \[1, 48, 48\]"):
        small.score_samples(ReducedInputs(test_reduced.x, (1, 32, 32)))
    with pytest.raises(ValueError, match="the network works on"):
        ReducedInputs(torch.zeros(2, 1, 64, 64), (1, 48, 48))  # larger than the inputs: not a reduction
