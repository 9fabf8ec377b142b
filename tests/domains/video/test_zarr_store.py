import re
import shutil

import numpy as np
import pytest
import zarr

from sciffusion.domains.video.zarr_store import (
    FORMAT, check_prediction_pair, open_video_store, write_video_store)

PRED_ATTRS = {"fps": 10.0, "context": 2, "horizon": 3, "method": "copy-last", "truth": "t.zarr"}


def _random_video(shape, seed=0):
    return np.random.default_rng(seed).integers(1, 256, shape, dtype=np.uint8)


def _raw_store(path, video, kind="prediction", zarr_format=3, **attrs):
    """A store written with zarr directly, so it can break the layout that write_video_store enforces."""
    group = zarr.open_group(str(path), mode="w-", zarr_format=zarr_format)
    arr = group.create_array("video", shape=video.shape, chunks=(1,) + video.shape[1:], dtype=video.dtype)
    arr[...] = video
    group.attrs.update({"format": FORMAT, "version": 1, "kind": kind, **PRED_ATTRS, **attrs})
    return path


def _prediction(path, n=3, k=2):
    return write_video_store(path, _random_video((n, k, 3, 8, 8, 1)), PRED_ATTRS, kind="prediction")


def test_round_trip_keeps_frames_labels_attrs_and_chunks(tmp_path):
    video = _random_video((3, 5, 8, 8, 1))
    labels = {"near_miss": np.eye(3, 5, dtype=np.uint8)}
    write_video_store(tmp_path / "a.zarr", video, {"fps": 10.0, "seed": np.int64(3)}, labels)
    store = open_video_store(tmp_path / "a.zarr", kind="dataset")
    np.testing.assert_array_equal(store.video[...], video)
    np.testing.assert_array_equal(store.labels["near_miss"][...], labels["near_miss"])
    assert store.video.chunks == (1, 5, 8, 8, 1)
    assert store.attrs["seed"] == 3 and store.fps == 10.0 and store.kind == "dataset"


def test_all_zero_clips_and_labels_are_stored_as_chunks(tmp_path):
    """zarr skips all-zero chunks by default; the reader would then take them for deleted ones."""
    video = _random_video((3, 2, 8, 8, 1))
    video[1] = 0
    write_video_store(tmp_path / "a.zarr", video, {"fps": 1.0}, {"cut_in": np.zeros((3, 2), np.uint8)})
    store = open_video_store(tmp_path / "a.zarr")
    assert store.video.nchunks_initialized == 3 and store.labels["cut_in"].nchunks_initialized == 3
    np.testing.assert_array_equal(store.video[1], 0)


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
    write_video_store(tmp_path / "a.zarr", np.ones((1, 2, 8, 8, 3), np.uint8), {"fps": 1.0})
    with pytest.raises(ValueError, match="prediction"):
        open_video_store(tmp_path / "a.zarr", kind="prediction")
    other = zarr.open_group(str(tmp_path / "other.zarr"), mode="w")  # another format's attrs: not ours
    other.create_array("video", shape=(1, 2, 8, 8, 3), dtype="uint8")[...] = 1
    other.attrs.update({"format": "someone-else"})
    with pytest.raises(ValueError, match="its attrs need format='sciffusion-video', kind='dataset' and fps"):
        open_video_store(tmp_path / "other.zarr")


def _plain_store(path, video, **attrs):
    """A user's store in the documented layout written with zarr's defaults: no sciffusion attrs, and
    all-zero chunks left out."""
    group = zarr.open_group(str(path), mode="w")
    group.create_array("video", shape=video.shape, chunks=(1,) + video.shape[1:], dtype=video.dtype)[...] = video
    labels = group.create_array("labels/label", shape=(len(video),), chunks=(1,), dtype="uint8")
    labels[...] = np.arange(len(video)) % 2
    group.attrs.update(attrs)
    return path


def test_a_plain_store_reads_as_a_dataset_and_says_what_it_assumed(tmp_path):
    video = _random_video((3, 4, 8, 8, 3))
    video[1] = 0  # zarr's default writer leaves this chunk out: it reads as zeros, not as a deleted clip
    store = open_video_store(_plain_store(tmp_path / "hand.zarr", video), kind="dataset")
    assert store.video.nchunks_initialized == 2
    np.testing.assert_array_equal(store.video[...], video)
    np.testing.assert_array_equal(store.labels["label"][...], [0, 1, 0])
    assert store.kind == "dataset" and store.fps == 10.0
    assert store.assumed.startswith(f"{tmp_path / 'hand.zarr'}: no sciffusion attrs") and "assumed" in store.assumed
    with_fps = open_video_store(_plain_store(tmp_path / "fps.zarr", video, fps=25), kind="dataset")
    assert with_fps.fps == 25.0 and "(assumed" not in with_fps.assumed
    with pytest.raises(ValueError, match="expected a prediction store"):
        open_video_store(tmp_path / "hand.zarr", kind="prediction")
    ours = write_video_store(tmp_path / "ours.zarr", video, {"fps": 5.0})
    assert open_video_store(ours).assumed is None


def test_a_plain_store_is_still_checked(tmp_path):
    with pytest.raises(ValueError, match="need uint8 frames, got float32"):
        open_video_store(_plain_store(tmp_path / "f.zarr", np.zeros((2, 4, 8, 8, 3), np.float32)))
    with pytest.raises(ValueError, match=r"need \[N, T, H, W, C\]"):
        open_video_store(_plain_store(tmp_path / "g.zarr", _random_video((2, 4, 8))))
    with pytest.raises(ValueError, match="need uint8 frames, got float32"):  # grey, but not uint8
        open_video_store(_plain_store(tmp_path / "h.zarr", np.zeros((2, 4, 8, 8), np.float32)))
    ours = write_video_store(tmp_path / "ours.zarr", _random_video((2, 4, 8, 8, 1)), {"fps": 5.0})
    assert isinstance(open_video_store(ours).video, zarr.Array)  # only a plain 4-D store gets the grey view
    group = zarr.open_group(str(tmp_path / "ours4.zarr"), mode="w")
    group.create_array("video", shape=(2, 4, 8, 8), chunks=(1, 4, 8, 8), dtype="uint8")[...] = 1
    group.attrs.update({"format": "sciffusion-video", "version": 1, "kind": "dataset", "fps": 5.0})
    with pytest.raises(ValueError, match=r"need \[N, T, H, W, C\]"):
        open_video_store(tmp_path / "ours4.zarr")


def test_a_plain_store_of_grey_clips_without_a_channel_axis_reads_as_one_channel(tmp_path):
    grey = _random_video((3, 5, 8, 6))
    store = open_video_store(_plain_store(tmp_path / "grey.zarr", grey), kind="dataset")
    assert store.video.shape == (3, 5, 8, 6, 1) and store.video.ndim == 5 and store.video.dtype == np.uint8
    assert "read as grey [N, T, H, W, 1]" in store.assumed
    whole = grey[..., None]
    np.testing.assert_array_equal(store.video[...], whole)
    np.testing.assert_array_equal(store.video[:], whole)
    np.testing.assert_array_equal(np.asarray(store.video), whole)
    np.testing.assert_array_equal(store.video[1], whole[1])
    np.testing.assert_array_equal(store.video[:2, 1:3], whole[:2, 1:3])
    np.testing.assert_array_equal(store.video[[0, 2]], whole[[0, 2]])
    np.testing.assert_array_equal(store.video[2, 1:4, ..., 0], whole[2, 1:4, ..., 0])
    np.testing.assert_array_equal(store.video[0, 0, 0, 0, 0], whole[0, 0, 0, 0, 0])
    assert len(store.video) == 3 and store.num_clips == 3


def test_a_bare_zarr_array_is_named_as_one(tmp_path):
    """zarr.save_array writes an array with no group around it: a zarr store, but not one holding 'video'."""
    zarr.save_array(str(tmp_path / "bare.zarr"), _random_video((2, 4, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"bare\.zarr: a bare zarr array, not a store; put it in a zarr group as "
                                         r"the array 'video'"):
        open_video_store(tmp_path / "bare.zarr")


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_open_rejects_video_that_is_not_uint8(tmp_path, dtype):
    path = _raw_store(tmp_path / "p.zarr", _random_video((2, 1, 3, 8, 8, 1)).astype(dtype))
    expected = rf"^{re.escape(str(tmp_path))}/p.zarr/video: need uint8 frames, got {dtype}$"
    with pytest.raises(ValueError, match=expected):
        open_video_store(path)


def test_open_rejects_video_that_is_a_group(tmp_path):
    group = zarr.open_group(str(tmp_path / "p.zarr"), mode="w-")
    group.create_group("video")
    group.attrs.update({"format": FORMAT, "version": 1, "kind": "dataset", "fps": 1.0})
    with pytest.raises(ValueError, match=r"p.zarr: 'video' is a group"):
        open_video_store(tmp_path / "p.zarr")


@pytest.mark.parametrize("shape,problem", [((2, 3, 8, 8, 1), "need \\[N, K, T, H, W, C\\]"),
                                           ((2, 0, 3, 8, 8, 1), "need K >= 1 samples"),
                                           ((2, 1, 3, 8, 8, 2), "need 1 or 3 channels")])
def test_open_rejects_prediction_shapes(tmp_path, shape, problem):
    path = _raw_store(tmp_path / "p.zarr", np.ones(shape, np.uint8), horizon=shape[2] if len(shape) == 6 else 3)
    with pytest.raises(ValueError, match=rf"p.zarr/video: {problem}"):
        open_video_store(path)


def test_open_rejects_a_deleted_chunk(tmp_path):
    path = _prediction(tmp_path / "p.zarr")
    (path / "video" / "c" / "1" / "0" / "0" / "0" / "0" / "0").unlink()
    with pytest.raises(ValueError, match=r"p.zarr: chunk video/c/1/0/0/0/0/0 is missing$"):
        open_video_store(path)


def test_absent_label_chunk_reads_as_fill_but_a_corrupt_one_is_named(tmp_path):
    """zarr's default writer omits all-fill label chunks (stores written before all-zero chunks were
    stored): they open and read as fill; a label chunk that is there but does not decode is an error."""
    write_video_store(tmp_path / "a.zarr", _random_video((2, 3, 8, 8, 1)), {"fps": 1.0},
                      {"episode": np.arange(2) + 5})
    (tmp_path / "a.zarr" / "labels" / "episode" / "c" / "1").unlink()
    store = open_video_store(tmp_path / "a.zarr")
    assert store.labels["episode"][:].tolist() == [5, 0]
    (tmp_path / "a.zarr" / "labels" / "episode" / "c" / "0").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"a.zarr: chunk labels/episode/c/0 is corrupt"):
        open_video_store(tmp_path / "a.zarr")


def test_open_rejects_a_corrupt_chunk(tmp_path):
    path = _prediction(tmp_path / "p.zarr")
    (path / "video" / "c" / "2" / "0" / "0" / "0" / "0" / "0").write_bytes(b"not zstd at all")
    with pytest.raises(ValueError, match=r"p.zarr: chunk video/c/2/0/0/0/0/0 is corrupt"):
        open_video_store(path)


def test_open_checks_chunks_of_zarr_v2_stores(tmp_path):
    path = _raw_store(tmp_path / "p.zarr", _random_video((2, 1, 3, 8, 8, 1)), zarr_format=2)
    assert open_video_store(path).num_clips == 2
    (path / "video" / "1.0.0.0.0.0").unlink()
    with pytest.raises(ValueError, match=r"p.zarr: chunk video/1.0.0.0.0.0 is missing$"):
        open_video_store(path)


@pytest.mark.parametrize("zarr_format,meta", [(3, "zarr.json"), (2, ".zattrs")])
def test_open_names_metadata_that_is_not_json(tmp_path, zarr_format, meta):
    path = _raw_store(tmp_path / "p.zarr", _random_video((2, 1, 3, 8, 8, 1)), zarr_format=zarr_format)
    (path / meta).write_text('{"attributes": {')
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}/p.zarr: {meta} is not valid JSON \("):
        open_video_store(path)


@pytest.mark.parametrize("attrs,problem", [
    ({"context": "ten"}, "attr 'context' must be an integer, got 'ten'"),
    ({"horizon": 3.0}, "attr 'horizon' must be an integer, got 3.0"),
    ({"horizon": 4}, "attr 'horizon' is 4, but video holds 3"),
    ({"context": -1}, "attr 'context' must be >= 0"),
    ({"fps": "fast"}, "attr 'fps' must be a number > 0"),
])
def test_open_rejects_bad_prediction_attrs(tmp_path, attrs, problem):
    path = _raw_store(tmp_path / "p.zarr", _random_video((2, 1, 3, 8, 8, 1)), **attrs)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}/p.zarr: {problem}"):
        open_video_store(path)


def test_open_rejects_labels_without_clips_first(tmp_path):
    path = write_video_store(tmp_path / "a.zarr", _random_video((2, 3, 8, 8, 1)), {"fps": 1.0})
    group = zarr.open_group(str(path), mode="r+")
    group.create_array("labels/episode", shape=(3,), chunks=(1,), dtype="int64")[...] = 1
    with pytest.raises(ValueError, match=r"a.zarr: labels/episode has shape \(3,\), need N = 2 first"):
        open_video_store(path)


def test_prediction_pair_needs_every_truth_clip(tmp_path):
    truth = write_video_store(tmp_path / "t.zarr", _random_video((3, 5, 8, 8, 1)), {"fps": 1.0})
    check_prediction_pair(open_video_store(_prediction(tmp_path / "p.zarr", n=3)), open_video_store(truth))
    fewer = open_video_store(_prediction(tmp_path / "fewer.zarr", n=2))
    with pytest.raises(ValueError, match=r"fewer.zarr: 2 clips, but its truth store .*t.zarr has 3"):
        check_prediction_pair(fewer, open_video_store(truth))
    # a store that says it predicts the first 2 clips (video predict --clips 2) is scored on them
    first = write_video_store(tmp_path / "first.zarr", _random_video((2, 2, 3, 8, 8, 1)),
                              {**PRED_ATTRS, "first_clips": 2}, kind="prediction")
    check_prediction_pair(open_video_store(first), open_video_store(truth))
    wrong = write_video_store(tmp_path / "wrong.zarr", _random_video((2, 2, 3, 8, 8, 1)),
                              {**PRED_ATTRS, "first_clips": 1}, kind="prediction")  # says 1, holds 2
    with pytest.raises(ValueError, match=r"wrong.zarr: 2 clips, .* has 3 \(the store says it predicts the first 1\)"):
        check_prediction_pair(open_video_store(wrong), open_video_store(truth))
    short = write_video_store(tmp_path / "short.zarr", _random_video((3, 4, 8, 8, 1)), {"fps": 1.0})
    with pytest.raises(ValueError, match=r"short.zarr: 4 frames per clip, need context \+ horizon = 5"):
        check_prediction_pair(open_video_store(tmp_path / "p.zarr"), open_video_store(short))


def test_copied_store_with_every_chunk_opens(tmp_path):
    """Negative control for the chunk checks: a byte-for-byte copy is accepted."""
    path = _prediction(tmp_path / "p.zarr")
    shutil.copytree(path, tmp_path / "copy.zarr")
    np.testing.assert_array_equal(open_video_store(tmp_path / "copy.zarr").video[...],
                                  open_video_store(path).video[...])
