import numpy as np
import pytest

from sciffusion.domains.video import writers


def _frames(t=6, h=20, w=30, c=3):
    x = np.linspace(0, 255, w, dtype=np.float32)
    return np.stack([np.broadcast_to(np.roll(x, 3 * k)[None, :, None], (h, w, c)) for k in range(t)]).astype(np.uint8)


def test_mp4_round_trip_frame_count_and_content(tmp_path):
    import av

    frames = _frames()
    writers.write_mp4(tmp_path / "a.mp4", frames, fps=5)
    with av.open(str(tmp_path / "a.mp4")) as c:
        back = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 8


def test_gif_round_trip_grey(tmp_path):
    import imageio.v3 as iio

    frames = _frames(c=1)
    writers.write_gif(tmp_path / "a.gif", frames, fps=10)
    back = iio.imread(tmp_path / "a.gif")
    assert back.shape[:3] == frames.shape[:3]


def test_grids_have_the_documented_layout():
    ctx, pred, truth = _frames(3), _frames(2), _frames(2)
    strip = writers.comparison_strip(ctx, pred, truth)
    sep = writers.SEPARATOR_PX
    assert strip.shape == (2 * 20 + sep, 5 * 30 + 4 * sep, 3)
    anim = writers.comparison_frames(ctx[None].repeat(2, 0), pred[None].repeat(2, 0), truth[None].repeat(2, 0))
    assert anim.shape == (5, 2 * 20 + sep, 3 * 30 + 2 * sep, 3)
    assert anim[0, :20, 30 + sep:60 + sep].max() == 0  # no prediction during the context
    np.testing.assert_array_equal(anim[3, :20, 30 + sep:60 + sep], pred[0])


def test_unknown_suffix_and_float_frames_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        writers.write_video(tmp_path / "a.avi", _frames(), 5)
    with pytest.raises(ValueError, match="uint8"):
        writers.write_gif(tmp_path / "a.gif", _frames().astype(float), 5)


def test_contact_sheet_layout():
    from sciffusion.domains.video.writers import SEPARATOR_PX, contact_sheet

    clips = np.zeros((2, 3, 4, 5, 1), np.uint8)
    clips[1, 2] = 200
    sheet = contact_sheet(clips)
    assert sheet.shape == (2 * 4 + SEPARATOR_PX, 3 * 5 + 2 * SEPARATOR_PX, 3)
    row, col = 4 + SEPARATOR_PX, 2 * (5 + SEPARATOR_PX)
    assert (sheet[row:row + 4, col:col + 5] == 200).all() and (sheet[:4, :5] == 0).all()


def test_labelled_contact_sheet_marks_context_and_generated_frames_and_labels_rows():
    from sciffusion.domains.video.writers import (CONTEXT_MARK, GENERATED_MARK, HEADER_PX, MARK_PX, SEPARATOR_PX,
                                                  contact_sheet, labelled_contact_sheet)

    clips = np.full((2, 3, 20, 24, 1), 90, np.uint8)
    plain = contact_sheet(clips)
    sheet = labelled_contact_sheet(clips, ["clip 0 collision", "clip 1 collision"], context_frames=1)
    label_w = sheet.shape[1] - plain.shape[1]
    assert sheet.shape == (HEADER_PX + plain.shape[0], label_w + plain.shape[1], 3) and label_w > 20
    np.testing.assert_array_equal(sheet[HEADER_PX:, label_w:], plain)  # the frames themselves are untouched
    bar = sheet[HEADER_PX - MARK_PX:HEADER_PX]
    column = lambda j: label_w + j * (24 + SEPARATOR_PX) + 12  # noqa: E731
    assert (bar[:, column(0)] == CONTEXT_MARK).all()
    assert (bar[:, column(1)] == GENERATED_MARK).all() and (bar[:, column(2)] == GENERATED_MARK).all()
    assert (sheet[HEADER_PX:HEADER_PX + 20, :label_w] < 128).any()  # row 0's label is drawn
    assert (sheet[:HEADER_PX - MARK_PX, column(0) - 10:column(0) + 10] < 128).any()  # frame number 1
    unlabelled = labelled_contact_sheet(clips, ["", ""], context_frames=0)
    assert (unlabelled[HEADER_PX - MARK_PX:HEADER_PX, -5] == GENERATED_MARK).all()
    with pytest.raises(ValueError, match="1 row labels for 2 clips"):
        labelled_contact_sheet(clips, ["only one"])
    with pytest.raises(ValueError, match="context_frames 4 not in"):
        labelled_contact_sheet(clips, ["a", "b"], context_frames=4)
