import numpy as np
import pytest

from sciffusion.common.io.idx import read_idx
from sciffusion.domains.video.datasets.smmnist import (
    SMMNISTConfig, bouncing_trajectory, generate_smmnist, split_digit_indices)
from sciffusion.common.data import mnist_test_paths


@pytest.fixture(scope="module")
def images():
    return read_idx(mnist_test_paths()[0])


def test_train_and_test_digit_pools_are_disjoint_and_cover_all(images):
    train, test = split_digit_indices(len(images), "train"), split_digit_indices(len(images), "test")
    assert len(train) == 8000 and len(test) == 2000
    assert not set(train) & set(test)


def test_clips_are_deterministic_independent_of_count_and_use_their_split(images):
    cfg = SMMNISTConfig(clips=3, frames=12, seed=5, split="test")
    v1, ids1 = generate_smmnist(images, cfg)
    v2, ids2 = generate_smmnist(images, SMMNISTConfig(clips=5, frames=12, seed=5, split="test"))
    np.testing.assert_array_equal(v1, v2[:3])
    np.testing.assert_array_equal(ids1, ids2[:3])
    assert v1.shape == (3, 12, 64, 64, 1) and v1.dtype == np.uint8
    assert set(ids1.ravel()) <= set(split_digit_indices(len(images), "test"))
    v3, _ = generate_smmnist(images, SMMNISTConfig(clips=3, frames=12, seed=6, split="test"))
    assert not np.array_equal(v1, v3)


def test_every_frame_shows_digits_and_trajectories_stay_inside():
    rng = np.random.default_rng(0)
    for _ in range(50):
        traj = bouncing_trajectory(rng, 100, 64, 32)
        assert traj.min() >= 0 and traj.max() <= 32
        assert np.abs(np.diff(traj, axis=0)).max() <= 4 + 4  # a bounce can reset then step


def test_velocity_changes_randomly_at_walls():
    rng = np.random.default_rng(1)
    speeds = set()
    for _ in range(20):
        traj = bouncing_trajectory(rng, 200, 64, 32)
        speeds |= {tuple(d) for d in np.diff(traj, axis=0)}
    assert len(speeds) > 10  # a deterministic bounce would keep |velocity| fixed per digit


def test_frames_are_not_blank(images):
    video, _ = generate_smmnist(images, SMMNISTConfig(clips=2, frames=4))
    assert (video.reshape(8, -1).max(axis=1) > 200).all()


@pytest.mark.parametrize("kwargs", [{"clips": 0}, {"size": 63}, {"split": "val"}, {"frames": 0}])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        SMMNISTConfig(**kwargs)
