"""Frame folders and folders of footage as ingest sources (domains/video/image_sequence.py)."""
import numpy as np
import pytest
from PIL import Image

from sciffusion.common.io.images import natural_key
from sciffusion.domains.video.image_sequence import find_sources, ground_truth_folder, read_image_sequence
from sciffusion.domains.video.ingest import IngestConfig, square_resize, to_grey


def _frames(folder, count, names=lambda t: f"f{t}.png", size=(12, 20), mode="L"):
    folder.mkdir(parents=True)
    for t in range(count):
        value = np.full(size, 10 * t, np.uint8)  # frame t is uniformly 10 t: order is readable back
        Image.fromarray(value if mode == "L" else np.repeat(value[..., None], 3, -1)).save(folder / names(t))
    return folder


def test_frames_are_read_in_natural_order_and_resampled(tmp_path):
    folder = _frames(tmp_path / "seq", 12)  # f0 ... f11: lexical order would put f10 after f1
    decoded = read_image_sequence(folder, IngestConfig(size=8), frame_rate=10)
    assert decoded.frames.shape == (12, 8, 8, 3) and decoded.fps == 10 and decoded.decoder == "pillow"
    assert decoded.frames[:, 0, 0, 0].tolist() == [10 * t for t in range(12)]
    half = read_image_sequence(folder, IngestConfig(size=8, fps=5), frame_rate=10)
    assert half.frames[:, 0, 0, 0].tolist() == [0, 20, 40, 60, 80, 100] and half.indices.tolist() == [0, 2, 4, 6, 8, 10]
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_bad_sequences_are_one_line_errors(tmp_path):
    folder = _frames(tmp_path / "seq", 3)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "f3.png")
    with pytest.raises(ValueError, match="f3.png: 5x5 px, the sequence's first frame f0.png is 20x12"):
        read_image_sequence(folder, IngestConfig(size=8), frame_rate=10)
    (folder / "f3.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="f3.png: not a readable image"):
        read_image_sequence(folder, IngestConfig(size=8), frame_rate=10)
    with pytest.raises(ValueError, match="seq: --fps: 20 is above the source rate 10"):
        read_image_sequence(folder, IngestConfig(size=8, fps=20), frame_rate=10)
    short = _frames(tmp_path / "short", 3)
    with pytest.raises(ValueError, match="short: 3 frames at 10 fps, need at least 4"):
        read_image_sequence(short, IngestConfig(size=8, clip_frames=4), frame_rate=10)


def test_sources_under_a_path(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    assert [(s.kind, s.name) for s in find_sources(video)] == [("video", "clip.mp4")]
    train = tmp_path / "Train"
    for name in ("Train10", "Train2"):
        _frames(train / name, 2, names=lambda t: f"{t:03d}.tif")
    (train / "b.avi").write_bytes(b"x")
    (train / "notes.txt").write_text("ignored")
    (train / ".hidden.mp4").write_bytes(b"x")
    assert [(s.kind, s.name) for s in find_sources(train)] == [("video", "b.avi"), ("frames", "Train2"),
                                                               ("frames", "Train10")]  # by name, case-blind
    assert [s.kind for s in find_sources(train / "Train2")] == ["frames"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no video files"):
        find_sources(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nope: no such video file or folder"):
        find_sources(tmp_path / "nope")


def test_ground_truth_folders_beside_footage_are_masks_not_sources(tmp_path):
    test = tmp_path / "Test"  # UCSD Ped's layout: Test001 (frames), Test001_gt (one mask per frame)
    for name in ("Test001", "Test001_gt", "Test002", "Lonely_gt"):
        _frames(test / name, 2, names=lambda t: f"{t:03d}.bmp")
    (test / "cam.avi").write_bytes(b"x")
    _frames(test / "cam_gt", 2)
    sources = find_sources(test)
    assert [s.name for s in sources] == ["cam.avi", "Lonely_gt", "Test001", "Test002"]  # no source, no masks
    by_name = {s.name: s for s in sources}
    assert ground_truth_folder(by_name["Test001"]) == test / "Test001_gt"
    assert ground_truth_folder(by_name["cam.avi"]) == test / "cam_gt"
    assert ground_truth_folder(by_name["Test002"]) is None


def test_fit_and_grey():
    frame = np.zeros((10, 30, 3), np.uint8)
    frame[:, :5] = 255  # a bright strip at the left edge, outside the centre square
    assert square_resize(frame, 10, "crop").max() == 0
    assert square_resize(frame, 10, "stretch")[:, 0].min() > 200
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    assert to_grey(pixels)[..., 0].tolist() == [[76, 150, 29, 255]]  # PIL's "L" on the same pixels
    assert to_grey(pixels)[..., 0].tolist() == [np.asarray(Image.fromarray(pixels).convert("L")).tolist()[0]]
    with pytest.raises(ValueError, match="--fit: need one of crop, stretch"):
        IngestConfig(fit="squash")
    with pytest.raises(ValueError, match="--channels: need 1"):
        IngestConfig(channels=2)


def test_has_colour_sees_a_few_coloured_cars_and_not_codec_noise():
    """The rule that picks the bundled model for footage: grey content through a codec (channels off by a
    level or two) is grey; 1 % of pixels coloured (cars on a grey road) is colour; one channel is grey."""
    from sciffusion.domains.video.ingest import has_colour

    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (4, 32, 32, 1), dtype=np.uint8), 3, axis=-1)
    noisy = np.clip(grey.astype(int) + rng.integers(-2, 3, grey.shape), 0, 255).astype(np.uint8)
    assert not has_colour(grey) and not has_colour(noisy) and not has_colour(grey[..., :1])
    cars = noisy.copy()
    cars.reshape(-1, 3)[:: 100] = (200, 30, 30)  # every hundredth pixel red
    assert has_colour(cars)
    assert not has_colour(cars, fraction=0.02)  # the same pixels under a stricter fraction: the margin is real
