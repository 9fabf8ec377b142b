import numpy as np
import pytest

from pathlib import Path

from sciffusion.domains.video.ingest import IngestConfig, decode_video, resample_indices, split_clips

REPO = Path(__file__).resolve().parents[3]
BUNDLED_CLIP = REPO / "domains" / "video" / "data" / "udacity_lane_clip.mp4"
VEHICLE_MP4 = REPO.parent / "shared" / "data" / "video" / "udacity_driving" / "udacity_vehicledetection_test_video.mp4"


def test_bundled_clip_decodes_to_square_frames():
    decoded = decode_video(BUNDLED_CLIP, IngestConfig(size=64))
    assert decoded.frames.shape == (30, 64, 64, 3) and decoded.decoder == "decord"
    assert decoded.source_size == (180, 320) and decoded.fps == pytest.approx(25.0)
    assert decoded.frames.std() > 10  # real content, not a blank frame


def test_pyav_fallback_agrees_with_decord():
    a = decode_video(BUNDLED_CLIP, IngestConfig(size=32), decoders=("decord",))
    b = decode_video(BUNDLED_CLIP, IngestConfig(size=32), decoders=("pyav",))
    assert b.decoder == "pyav" and a.frames.shape == b.frames.shape
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() < 3


def test_fps_resampling_picks_nearest_source_frames():
    np.testing.assert_array_equal(resample_indices(10, 25.0, 12.5), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(resample_indices(4, 10.0, None), [0, 1, 2, 3])
    decoded = decode_video(BUNDLED_CLIP, IngestConfig(size=16, fps=5))
    np.testing.assert_array_equal(decoded.indices, [0, 5, 10, 15, 20, 25])


def test_real_dashcam_clips(lane_mp4):
    lane = decode_video(lane_mp4, IngestConfig(size=64, fps=5))
    assert lane.frames.shape == (44, 64, 64, 3)  # 221 frames / 25 fps = 8.84 s -> 44 at 5 fps and lane.source_frames == 221
    if VEHICLE_MP4.is_file():
        vehicle = decode_video(VEHICLE_MP4, IngestConfig(size=64))
        assert vehicle.frames.shape == (38, 64, 64, 3) and vehicle.source_size == (720, 1280)


def test_corrupt_empty_and_short_files_give_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(ValueError, match="cannot decode") as err:
        decode_video(corrupt, IngestConfig())
    assert "\n" not in str(err.value)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        decode_video(empty, IngestConfig())
    with pytest.raises(ValueError, match="need at least 100"):
        decode_video(BUNDLED_CLIP, IngestConfig(size=16, min_frames=100))
    with pytest.raises(FileNotFoundError):
        decode_video(tmp_path / "missing.mp4", IngestConfig())


def test_split_clips_drops_the_tail():
    frames = np.arange(7 * 2 * 2 * 1, dtype=np.uint8).reshape(7, 2, 2, 1)
    assert split_clips(frames, 3).shape == (2, 3, 2, 2, 1)
    assert split_clips(frames, None).shape == (1, 7, 2, 2, 1)


def test_gif_structure_walk_catches_every_cut():
    """gif_problem walks the blocks to the trailer: the whole file passes, every prefix fails, and a cut
    file that happens to end in 0x3B (what the old trailer-byte check accepted) fails too."""
    import io

    from PIL import Image

    from sciffusion.domains.video.ingest import gif_problem

    frames = [Image.fromarray(np.random.default_rng(t).integers(0, 256, (12, 10, 3), dtype=np.uint8)) for t in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = buffer.getvalue()
    assert gif_problem(data) is None
    assert all(gif_problem(data[:cut]) is not None for cut in range(len(data) - 1))
    assert gif_problem(data[: len(data) // 2] + b";") is not None
    table = 3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0  # global colour table bytes
    assert "unknown block 0x99 at byte" in gif_problem(data[:13 + table] + b"\x99" + data[-1:])


def test_a_corrupt_file_prints_nothing_but_the_error(tmp_path, capfd):
    """decord's FFmpeg and C++ logger write their own lines on file descriptor 2 for a file they cannot open
    ('moov atom not found', 'ERROR opening'); the user should see one line, the error decode_video raises."""
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(BUNDLED_CLIP.read_bytes()[:2000])
    capfd.readouterr()
    with pytest.raises(ValueError, match="cannot decode video"):
        decode_video(cut, IngestConfig())
    assert capfd.readouterr().err == ""
