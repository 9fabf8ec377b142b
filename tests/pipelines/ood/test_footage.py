"""Footage as ood inputs (pipelines/ood/footage.py): windows, ids, labels from <name>_gt folders, errors."""
import numpy as np
import pytest
from PIL import Image

from sciffusion.pipelines.ood.footage import FRAME_KEY_BASE, FootageClips, grey_footage, read_footage, window_starts
from sciffusion.pipelines.ood.inputs import read_inputs


def _sequence(folder, values, size=(12, 18), square=None):
    """Grey frames, frame t uniformly ``values[t]``; ``square`` (t, value): a bright 6x6 patch in frame t."""
    folder.mkdir(parents=True)
    for t, value in enumerate(values):
        frame = np.full(size, value, np.uint8)
        if square is not None and t in square:
            frame[3:9, 6:12] = square[t]
        Image.fromarray(frame).save(folder / f"{t + 1:03d}.tif")
    return folder


def test_window_starts_cover_every_frame():
    assert window_starts(10, 4, 4) == [0, 4, 6]  # the last window ends on frame 9
    assert window_starts(8, 4, 4) == [0, 4]
    assert window_starts(9, 4, 2) == [0, 2, 4, 5]
    assert window_starts(3, 4, 4) == []
    for frames, t, stride in ((23, 5, 3), (7, 7, 1), (40, 8, 8)):
        covered = {s + k for s in window_starts(frames, t, stride) for k in range(t)}
        assert covered == set(range(frames))


def test_frame_folders_are_cut_into_clips_with_ids_and_keys(tmp_path):
    train = tmp_path / "Train"
    _sequence(train / "Train001", [10 * t for t in range(10)])
    _sequence(train / "Train002", [5 * t for t in range(8)])
    assert grey_footage(train)
    data = read_footage(train, FootageClips(clip_frames=4, size=8, channels=1))
    assert data.layout == "clips" and data.pixels.shape == (5, 4, 8, 8, 1) and data.pixels.dtype == np.uint8
    assert data.ids == ["Train001/0", "Train001/4", "Train001/6", "Train002/0", "Train002/4"]
    assert data.pixels[2, :, 0, 0, 0].tolist() == [60, 70, 80, 90]  # frames 6..9 of Train001, in order
    assert data.frame_keys[2].tolist() == [6, 7, 8, 9] and data.frame_keys[3, 0] == FRAME_KEY_BASE
    assert data.labels is None and data.masks is None  # no _gt folders: unlabelled
    rgb = read_footage(train, FootageClips(clip_frames=4, size=8, channels=3, stride=2))
    assert rgb.pixels.shape[-1] == 3 and rgb.ids[:3] == ["Train001/0", "Train001/2", "Train001/4"]


def test_ground_truth_folders_label_frames_clips_and_pixels(tmp_path):
    test = tmp_path / "Test"
    _sequence(test / "Test001", [40] * 8, square={5: 250, 6: 250})
    _sequence(test / "Test001_gt", [0] * 8, square={5: 255, 6: 255})  # masks, not footage
    _sequence(test / "Test002", [40] * 4)
    _sequence(test / "Test002_gt", [0] * 4)
    data = read_inputs(test, footage=FootageClips(clip_frames=4, size=12, channels=1, fit="stretch"))
    assert data.ids == ["Test001/0", "Test001/4", "Test002/0"]  # the _gt folders are not scored
    assert data.frame_labels.tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert data.labels.tolist() == [0, 1, 0]
    assert data.masks.shape == (3, 4, 12, 12) and data.masks[1, 1].sum() > 0 and data.masks[1, 0].sum() == 0
    assert data.pixels[1, 1, ..., 0][data.masks[1, 1] == 1].min() > 150  # the mask sits on the bright patch
    (test / "Test002_gt" / "004.tif").unlink()
    with pytest.raises(ValueError, match="Test002_gt: 3 masks for the 4 frames of .*Test002: need one per frame"):
        read_inputs(test, footage=FootageClips(clip_frames=4, size=12, channels=1))
    (test / "Test002_gt" / "001.tif").rename(test / "Test002_gt" / "004.tif")
    for name in ("002.tif", "003.tif", "004.tif"):
        (test / "Test002_gt" / name).unlink()
    (test / "Test002_gt").rmdir()  # one source without masks: no labels for any
    assert read_inputs(test, footage=FootageClips(clip_frames=4, size=12, channels=1)).labels is None


def test_video_files_are_footage_and_bad_footage_is_one_line(tmp_path):
    from sciffusion.domains.video.writers import write_gif

    frames = np.repeat(np.arange(0, 240, 20, dtype=np.uint8)[:, None, None, None], 3, -1) * np.ones((1, 16, 16, 3),
                                                                                                    np.uint8)
    gif = write_gif(tmp_path / "cam.gif", frames, fps=10)  # 12 frames
    data = read_inputs(gif, footage=FootageClips(clip_frames=5, size=8))
    assert data.ids == ["cam.gif/0", "cam.gif/5", "cam.gif/7"] and data.pixels.shape == (3, 5, 8, 8, 3)
    with pytest.raises(ValueError, match="cam.gif: a video file needs a clip length"):
        read_inputs(gif)
    with pytest.raises(ValueError, match="cam.gif: 12 frames, too few for one clip of 20 frames"):
        read_inputs(gif, footage=FootageClips(clip_frames=20, size=8))
    for bad, match in ((dict(clip_frames=0), "--clip-frames: must be >= 1"), (dict(clip_frames=4, size=4), "--image-size"),
                       (dict(clip_frames=4, channels=2), "--channels"), (dict(clip_frames=4, stride=0), "--clip-stride"),
                       (dict(clip_frames=4, fit="zoom"), "--fit")):
        with pytest.raises(ValueError, match=match):
            FootageClips(**bad)


def test_a_source_shorter_than_one_clip_is_skipped_and_named(tmp_path):
    train = tmp_path / "Train"
    _sequence(train / "Train001", [10 * t for t in range(8)])
    _sequence(train / "Train002", [5] * 3)  # shorter than one clip of 4
    data = read_footage(train, FootageClips(clip_frames=4, size=8, channels=1))
    assert data.ids == ["Train001/0", "Train001/4"] and data.skipped == ("Train002",)
    with pytest.raises(ValueError, match="Train: every one of its 2 sources is too short \\(the longest has 8 frames\\)"):
        read_footage(train, FootageClips(clip_frames=9, size=8, channels=1))


def test_shanghaitech_frame_and_pixel_masks(tmp_path):
    testing = tmp_path / "shanghaitech" / "testing"
    _sequence(testing / "frames" / "01_0014", [40] * 6, square={4: 250, 5: 250})
    _sequence(testing / "frames" / "01_0015", [40] * 4)
    (testing / "test_frame_mask").mkdir()
    np.save(testing / "test_frame_mask" / "01_0014.npy", np.array([0, 0, 0, 1, 1, 1]))  # official: from frame 3
    np.save(testing / "test_frame_mask" / "01_0015.npy", np.zeros(4, np.int64))
    clips = FootageClips(clip_frames=3, size=12, channels=1, fit="stretch")
    data = read_inputs(testing / "frames", footage=clips)
    assert data.ids == ["01_0014/0", "01_0014/3", "01_0015/0", "01_0015/1"]
    assert data.frame_labels.tolist() == [[0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert data.labels.tolist() == [0, 1, 0, 0] and data.masks is None  # frame labels only
    (testing / "test_pixel_mask").mkdir()
    pixel = np.zeros((6, 12, 18), np.uint8)
    pixel[4:, 3:9, 6:12] = 1  # ShanghaiTech masks are 0/1
    np.save(testing / "test_pixel_mask" / "01_0014.npy", pixel)
    np.save(testing / "test_pixel_mask" / "01_0015.npy", np.zeros((4, 12, 18), np.uint8))
    data = read_inputs(testing / "frames", footage=clips)
    assert data.frame_labels.tolist()[1] == [1, 1, 1]  # the frame file wins over the masks (frame 3 has none)
    assert data.masks.shape == (4, 3, 12, 12) and data.masks[1, 1].sum() > 0 and data.masks[1, 0].sum() == 0
    assert data.pixels[1, 1, ..., 0][data.masks[1, 1] == 1].min() > 150  # the mask sits on the bright patch
    np.save(testing / "test_frame_mask" / "01_0015.npy", np.zeros(5, np.int64))
    with pytest.raises(ValueError, match="01_0015.npy: 5 frame labels for the 4 frames of .*01_0015"):
        read_inputs(testing / "frames", footage=clips)


def test_avenue_mat_masks_by_number_and_never_for_training_videos(tmp_path):
    from scipy.io import savemat

    root = tmp_path / "Avenue Dataset"
    _sequence(root / "testing_videos" / "01", [40] * 5, square={2: 250})
    _sequence(root / "training_videos" / "01", [40] * 7)
    masks = np.zeros((1, 5), object)
    for t in range(5):
        masks[0, t] = np.zeros((12, 18), np.uint8)
    masks[0, 2][3:9, 6:12] = 1
    (root / "ground_truth_demo" / "testing_label_mask").mkdir(parents=True)
    savemat(root / "ground_truth_demo" / "testing_label_mask" / "1_label.mat", {"volLabel": masks})
    clips = FootageClips(clip_frames=5, size=12, channels=1, fit="stretch")
    data = read_inputs(root / "testing_videos", footage=clips)
    assert data.frame_labels.tolist() == [[0, 0, 1, 0, 0]] and data.masks[0, 2].sum() > 0
    assert read_inputs(root / "training_videos", footage=clips).labels is None  # 01 of training is not test 1
    savemat(root / "ground_truth_demo" / "testing_label_mask" / "1_label.mat", {"other": np.zeros(3)})
    with pytest.raises(ValueError, match="1_label.mat: no 'volLabel'"):
        read_inputs(root / "testing_videos", footage=clips)


def test_ucsd_matlab_list_labels_every_test_video_and_truth_folders_are_searched_first(tmp_path):
    from sciffusion.pipelines.ood.footage_truth import read_matlab_frame_ranges

    test = tmp_path / "UCSDped1" / "Test"
    _sequence(test / "Test001", [40] * 6)
    _sequence(test / "Test002", [40] * 6)
    (test / "UCSDped1.m").write_text("TestVideoFile = {};\n% Test001\nTestVideoFile{end+1}.gt_frame = [3:4];\n"
                                     "TestVideoFile{end+1}.gt_frame = [1:2, 6];  % two events\n")
    assert [r.tolist() for r in read_matlab_frame_ranges(test / "UCSDped1.m")] == [[2, 3], [0, 1, 5]]
    clips = FootageClips(clip_frames=3, size=8, channels=1)
    data = read_inputs(test, footage=clips)
    assert data.frame_labels.tolist() == [[0, 0, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1]]
    given = tmp_path / "my_truth"
    given.mkdir()
    np.save(given / "Test001.npy", np.ones(6, np.int64))
    assert read_inputs(test, footage=clips, truth=[given]).frame_labels[:2].tolist() == [[1, 1, 1], [1, 1, 1]]
    with pytest.raises(ValueError, match="--truth: .* is not footage"):
        read_inputs(test, truth=[given])  # a folder read as images takes no --truth
    (test / "UCSDped1.m").write_text("TestVideoFile{end+1}.gt_frame = [3:9];\n")
    with pytest.raises(ValueError, match="UCSDped1.m: anomalous frames 3..9 outside the source's 6 frames"):
        read_inputs(test, footage=clips)


def test_per_source_frame_takes_each_frame_once_at_its_largest_score():
    from sciffusion.pipelines.ood.footage import per_source_frame

    keys = np.array([[0, 1, 2], [1, 2, 3], [FRAME_KEY_BASE, FRAME_KEY_BASE + 1, FRAME_KEY_BASE + 2]])
    scores = np.array([[1.0, 5.0, 2.0], [3.0, 4.0, 0.5], [7.0, 8.0, 9.0]])
    labels = np.array([[0, 0, 1], [0, 1, 1], [0, 0, 0]])
    unique, best, frame_labels = per_source_frame(keys, scores, labels)
    assert unique.tolist() == [0, 1, 2, 3, FRAME_KEY_BASE, FRAME_KEY_BASE + 1, FRAME_KEY_BASE + 2]
    assert best.tolist() == [1.0, 5.0, 4.0, 0.5, 7.0, 8.0, 9.0]  # frame 1: max(5, 3); frame 2: max(2, 4)
    assert frame_labels.tolist() == [0, 0, 1, 1, 0, 0, 0] and per_source_frame(keys, scores)[2] is None


def test_a_broken_label_npy_is_named_in_plain_words(tmp_path):
    from sciffusion.pipelines.ood.footage_truth import _load_npy

    good = tmp_path / "good.npy"
    np.save(good, np.zeros(12, np.uint8))
    assert _load_npy(good).shape == (12,)
    cases = {"garbage.npy": b"frame labels 0 0 1", "empty.npy": b"", "cut.npy": good.read_bytes()[:100]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    expected = {"garbage.npy": "no NumPy header", "empty.npy": "no NumPy header", "cut.npy": "cut short or damaged",
                "objects.npy": "holds Python objects"}
    for name, words in expected.items():
        with pytest.raises(ValueError) as info:
            _load_npy(tmp_path / name)
        message = str(info.value)
        assert message.startswith(str(tmp_path / name)) and words in message and "pickle" not in message
        assert "\n" not in message
