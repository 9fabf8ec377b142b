"""Tiny data for the ood flows: 8×8 grey images (dark normal, bright anomalies) and 4-frame clips."""
import numpy as np
import pytest


def images(n_normal: int, n_anomaly: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    normal = np.clip(rng.normal(60, 20, (n_normal, 8, 8)), 0, 255)
    anomaly = np.clip(rng.normal(200, 20, (n_anomaly, 8, 8)), 0, 255)
    return np.r_[normal, anomaly].astype(np.uint8), np.r_[np.zeros(n_normal), np.ones(n_anomaly)].astype(np.uint8)


@pytest.fixture(scope="session")
def image_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ood_images")
    train, _ = images(60, 0)
    test, label = images(16, 8, seed=1)
    mask = np.zeros(test.shape, np.uint8)
    mask[label == 1] = 1
    np.savez(root / "train.npz", images=train, unrelated=np.arange(3))
    np.savez(root / "test.npz", images=test, label=label, mask=mask)
    (root / "labels.csv").write_text("id,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(label)))
    return root


@pytest.fixture(scope="session")
def clip_store(tmp_path_factory):
    """A video store of 12 clips [T=4, 8, 8, 1]: half with a frozen-then-flash event on frames 2-3."""
    from sciffusion.domains.video.zarr_store import write_video_store

    root = tmp_path_factory.mktemp("ood_clips")
    rng = np.random.default_rng(2)
    video = np.clip(rng.normal(60, 20, (12, 4, 8, 8, 1)), 0, 255).astype(np.uint8)
    near_miss = np.zeros((12, 4), np.uint8)
    video[6:, 2:] = 230
    near_miss[6:, 2:] = 1
    write_video_store(root / "clips.zarr", video, {"fps": 10}, {"near_miss": near_miss,
                                                               "ego_collision": np.zeros((12, 4), np.uint8)})
    return root / "clips.zarr"
