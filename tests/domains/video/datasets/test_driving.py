import numpy as np
import pytest

pytest.importorskip("highway_env")

from sciffusion.domains.video.datasets.driving import (  # noqa: E402
    LABELS, STATES, DrivingConfig, class_balance, generate_driving, in_view)


@pytest.fixture(scope="module")
def small():
    cfg = DrivingConfig(episodes=2, clip_frames=6, clips_per_episode=2, seed=3, perturb=0.5)
    return cfg, generate_driving(cfg)


def test_driving_clips_have_labels_and_real_pixels(small):
    cfg, (video, labels) = small
    assert video.shape == (4, 6, 64, 64, 3) and video.dtype == np.uint8
    assert video.mean() > 20 and video.std() > 5  # not the black SDL-dummy frames
    for name in LABELS + STATES:
        assert labels[name].shape == (4, 6) and set(np.unique(labels[name])) <= {0, 1}
    assert labels["episode"].tolist() == [0, 0, 1, 1] and labels["start_frame"].tolist() == [0, 6, 0, 6]


def test_driving_is_deterministic_given_the_seed(small):
    cfg, (video, labels) = small
    video2, labels2 = generate_driving(DrivingConfig(episodes=1, clip_frames=6, clips_per_episode=2, seed=3,
                                                     perturb=0.5))
    np.testing.assert_array_equal(video[:2], video2)
    for name in LABELS:
        np.testing.assert_array_equal(labels[name][:2], labels2[name])


def test_class_balance_counts():
    labels = {name: np.zeros((2, 3), np.uint8) for name in LABELS}
    labels["cut_in"][1, 2] = 1
    balance = class_balance(labels)
    assert balance["cut_in"] == {"frames": 1, "frame_fraction": 1 / 6, "clips": 1, "clip_fraction": 0.5}
    assert balance["near_miss"]["frames"] == 0


@pytest.mark.parametrize("kwargs", [{"size": 96}, {"perturb": 1.5}, {"episodes": 0}])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        DrivingConfig(**kwargs)


def test_driving_renders_128_px():
    video, labels = generate_driving(DrivingConfig(episodes=1, size=128, clip_frames=3, clips_per_episode=1))
    assert video.shape == (1, 3, 128, 128, 3) and video.std() > 5


def test_in_view_is_the_rendered_window_around_the_ego():
    from types import SimpleNamespace

    ego = SimpleNamespace(position=np.array([100.0, 4.0]), LENGTH=5.0)

    def car(dx, dy=0.0):
        return SimpleNamespace(position=np.array([100.0 + dx, 4.0 + dy]), LENGTH=5.0)

    # 50 m across, the ego 35 % from the rear edge: 17.5 m behind, 32.5 m ahead, plus half a car
    assert in_view(ego, car(0)) and in_view(ego, car(34.9)) and in_view(ego, car(-19.9))
    assert not in_view(ego, car(35.1)) and not in_view(ego, car(-20.1)) and not in_view(ego, car(200))
    assert in_view(ego, car(10, 12)) and not in_view(ego, car(10, 28))
