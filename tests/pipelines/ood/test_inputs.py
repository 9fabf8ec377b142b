"""Input layouts of `ood`: npz images/clips, video stores with driving labels, labels CSV; one-line errors."""
import numpy as np
import pytest

from sciffusion.pipelines.ood.inputs import read_inputs, read_labels_csv


def test_npz_images_to_model_layout(image_files):
    data = read_inputs(image_files / "test.npz")
    x = data.model_inputs()
    assert data.layout == "images" and x.shape == (24, 1, 8, 8) and data.ids[:2] == ["0", "1"]
    assert x.min() >= -1 and x.max() <= 1
    assert np.allclose(x[:, 0], data.pixels[..., 0] / 127.5 - 1)
    assert data.labels.tolist() == [0] * 16 + [1] * 8 and data.masks.shape == (24, 8, 8)
    assert read_inputs(image_files / "train.npz").labels is None  # other arrays are ignored


def test_npz_rgb_clips_and_frame_labels(tmp_path):
    clips = np.zeros((3, 5, 4, 4, 3), np.uint8)
    clips[1, 2, 0, 0] = (255, 0, 0)
    frames = np.zeros((3, 5), np.uint8)
    frames[2, 4] = 1
    np.savez(tmp_path / "c.npz", clips=clips, frame_label=frames, id=np.array(["a", "b", "c"]))
    data = read_inputs(tmp_path / "c.npz")
    x = data.model_inputs()
    assert x.shape == (3, 3, 5, 4, 4) and x[1, 0, 2, 0, 0] == 1.0 and x[1, 1, 2, 0, 0] == -1.0
    assert data.ids == ["a", "b", "c"] and data.labels.tolist() == [0, 0, 1]
    picked = data.model_inputs(data.labels == 0)  # only the picked rows become floats, in model layout
    assert picked.shape == (2, 3, 5, 4, 4) and picked.flags["C_CONTIGUOUS"] and np.array_equal(picked, x[:2])


def test_reduced_inputs_hold_floats_only_a_chunk_at_a_time_at_full_size(tmp_path):
    """fit/score convert at the detector's working size chunk by chunk: the same floats as converting
    everything and then reducing, without ever holding the whole set as full-size floats."""
    import tracemalloc

    import torch

    from sciffusion.common.anomaly.resolution import to_working

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 96, 96, 3), dtype=np.uint8)
    label = np.r_[np.zeros(48), np.ones(16)].astype(np.uint8)
    np.savez(tmp_path / "big.npz", images=images, label=label)
    data = read_inputs(tmp_path / "big.npz")
    full_floats = data.model_inputs()  # the old way: 64 x 3 x 96 x 96 float32 = 7 MB
    expected = to_working(torch.from_numpy(full_floats), (3, 32, 32))
    tracemalloc.start()
    reduced = data.reduced_inputs((3, 32, 32), chunk=8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert reduced.input_shape == (3, 96, 96) and reduced.held_shape == (3, 32, 32)
    assert torch.allclose(reduced.x, expected, atol=1e-6)
    assert peak < full_floats.nbytes / 4  # one chunk of 8 (an eighth), not the whole set
    normal = data.reduced_inputs((3, 32, 32), data.labels == 0, chunk=5)
    assert len(normal) == 48 and torch.allclose(normal.x, expected[:48], atol=1e-6)
    with pytest.raises(ValueError, match=r"X: inputs of shape \[3, 96, 96\], the network works on \[1, 32, 32\]"):
        data.reduced_inputs((1, 32, 32))


def test_video_store_driving_labels(clip_store):
    data = read_inputs(clip_store)
    assert data.layout == "clips" and data.model_inputs().shape == (12, 1, 4, 8, 8)
    assert data.labels.tolist() == [0] * 6 + [1] * 6 and data.frame_labels[6].tolist() == [0, 0, 1, 1]
    assert read_inputs(clip_store, ["ego_collision"]).labels.sum() == 0  # names chosen by the user
    with pytest.raises(ValueError, match="no labels/cut_in"):
        read_inputs(clip_store, ["cut_in"])


def test_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz: no such"):
        read_inputs(tmp_path / "missing.npz")
    np.savez(tmp_path / "both.npz", images=np.zeros((2, 4, 4), np.uint8), clips=np.zeros((2, 3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="exactly one of"):
        read_inputs(tmp_path / "both.npz")
    np.savez(tmp_path / "float.npz", images=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="must be uint8"):
        read_inputs(tmp_path / "float.npz")
    np.savez(tmp_path / "lab.npz", images=np.zeros((2, 4, 4), np.uint8), label=np.array([0, 2]))
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        read_inputs(tmp_path / "lab.npz")
    (tmp_path / "l.csv").write_text("name,label\na,0\n")
    with pytest.raises(ValueError, match="need columns id,label"):
        read_labels_csv(tmp_path / "l.csv")
    np.savez(tmp_path / "whole.npz", clips=np.arange(4 * 3 * 8 * 8, dtype=np.uint8).reshape(4, 3, 8, 8))
    data = (tmp_path / "whole.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])  # a copy that stopped half way
    with pytest.raises(ValueError, match="cut.npz: not a readable .npz file"):
        read_inputs(tmp_path / "cut.npz")
    np.save(tmp_path / "bare.npy", np.zeros((2, 4, 4), np.uint8))
    (tmp_path / "bare.npy").rename(tmp_path / "bare.npz")  # one array, not an archive
    with pytest.raises(ValueError, match="bare.npz: not a readable .npz file"):
        read_inputs(tmp_path / "bare.npz")
    np.savez(tmp_path / "obj.npz", images=np.array([None, 1], dtype=object))  # pickled objects are not read
    with pytest.raises(ValueError, match="obj.npz: "):
        read_inputs(tmp_path / "obj.npz")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="need a video zarr store"):
        read_inputs(tmp_path / "x.txt")


def test_labels_csv(image_files):
    labels = read_labels_csv(image_files / "labels.csv")
    assert labels["0"] == 0 and labels["23"] == 1 and len(labels) == 24


def test_a_plain_zarr_store_in_the_video_layout_is_read_with_its_labels(tmp_path):
    """The layout the issue names (``video`` uint8 [N, T, H, W, C], ``labels/``) written with zarr alone,
    no sciffusion attrs, all-zero clips left out by zarr's default writer."""
    import zarr

    video = np.random.default_rng(0).integers(1, 256, (4, 3, 8, 8, 1), dtype=np.uint8)
    video[2] = 0
    group = zarr.open_group(str(tmp_path / "user.zarr"), mode="w")
    group.create_array("video", shape=video.shape, chunks=(1,) + video.shape[1:], dtype="uint8")[...] = video
    group.create_array("labels/label", shape=(4,), chunks=(1,), dtype="uint8")[...] = [0, 0, 1, 0]
    data = read_inputs(tmp_path / "user.zarr")
    assert data.layout == "clips" and data.labels.tolist() == [0, 0, 1, 0]
    np.testing.assert_array_equal(data.pixels, video)


def test_an_image_folder_takes_the_channels_it_is_asked_for(tmp_path):
    """Fitted on a folder with one colour image (RGB), a detector must still read an all-grey folder as RGB
    (and the other way round): channels come from the detector at score time, from the files at fit time."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "grey").mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8), "L").save(tmp_path / "grey" / f"{i}.png")
    grey = read_inputs(tmp_path / "grey")
    assert grey.sample_shape == (1, 6, 6)
    as_rgb = read_inputs(tmp_path / "grey", image_channels=3)
    assert as_rgb.sample_shape == (3, 6, 6) and np.array_equal(as_rgb.pixels[..., 1], grey.pixels[..., 0])
    Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8), "RGB").save(tmp_path / "grey" / "2.png")
    assert read_inputs(tmp_path / "grey").sample_shape == (3, 6, 6)
    assert read_inputs(tmp_path / "grey", image_channels=1).sample_shape == (1, 6, 6)
