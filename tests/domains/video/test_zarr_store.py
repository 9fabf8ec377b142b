import numpy as np
import pytest

from sciffusion.domains.video.zarr_store import open_video_store, write_video_store


def test_round_trip_keeps_frames_labels_attrs_and_chunks(tmp_path):
    video = np.random.default_rng(0).integers(0, 256, (3, 5, 8, 8, 1), dtype=np.uint8)
    labels = {"near_miss": np.eye(3, 5, dtype=np.uint8)}
    write_video_store(tmp_path / "a.zarr", video, {"fps": 10.0, "seed": np.int64(3)}, labels)
    store = open_video_store(tmp_path / "a.zarr", kind="dataset")
    np.testing.assert_array_equal(store.video[...], video)
    np.testing.assert_array_equal(store.labels["near_miss"][...], labels["near_miss"])
    assert store.video.chunks == (1, 5, 8, 8, 1)
    assert store.attrs["seed"] == 3 and store.fps == 10.0 and store.kind == "dataset"


def test_rejects_float_frames_and_missing_fps(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video_store(tmp_path / "a.zarr", np.zeros((1, 2, 8, 8, 3)), {"fps": 1.0})
    with pytest.raises(ValueError, match="fps"):
        write_video_store(tmp_path / "b.zarr", np.zeros((1, 2, 8, 8, 3), np.uint8), {})


def test_open_rejects_missing_foreign_and_wrong_kind(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_video_store(tmp_path / "nope.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="not a"):
        open_video_store(tmp_path / "plain")
    write_video_store(tmp_path / "a.zarr", np.zeros((1, 2, 8, 8, 3), np.uint8), {"fps": 1.0})
    with pytest.raises(ValueError, match="prediction"):
        open_video_store(tmp_path / "a.zarr", kind="prediction")
