import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.common.testing.cli import assert_one_line_error as _one_line_error

runner = CliRunner()
BUNDLED_CLIP = Path(__file__).resolve().parents[2] / "domains" / "video" / "data" / "udacity_lane_clip.mp4"


def invoke(*args):
    return runner.invoke(app, ["video", *map(str, args)])


def test_smmnist_baseline_evaluate_grid_round_trip(tmp_path):
    data, pred, report = tmp_path / "s.zarr", tmp_path / "p.zarr", tmp_path / "report"
    r = invoke("make-smmnist", "--out", data, "--clips", 3, "--frames", 20, "--size", 64, "--seed", 2,
               "--split", "test")
    assert r.exit_code == 0, r.output
    r = invoke("baseline", "--data", data, "--context", 10, "--horizon", 10, "--method", "linear", "--out", pred)
    assert r.exit_code == 0, r.output
    r = invoke("evaluate", "--pred", pred, "--truth", data, "--out", report, "--no-fvd")
    assert r.exit_code == 0, r.output
    assert "linear" in r.output and "PSNR" in r.output
    assert json.loads((report / "summary.json").read_text())["method"] == "linear"
    assert (report / "metrics.csv").read_text().splitlines()[0] == "clip,method,psnr,ssim"
    r = invoke("grid", "--pred", pred, "--truth", data, "--out", tmp_path / "g.png", "--clips", 1)
    assert r.exit_code == 0 and (tmp_path / "g.png").is_file()


@pytest.mark.parametrize("command", ["make-smmnist", "make-driving", "ingest", "evaluate", "predict", "generate"])
def test_every_long_running_command_can_run_without_a_progress_bar(command):
    r = invoke(command, "--help")
    assert r.exit_code == 0 and "--no-progress" in r.output


def test_no_progress_disables_the_bar(tmp_path, monkeypatch):
    import sciffusion.cli.video as video_cli

    asked = []
    real = video_cli.progress_bar

    def recording(description, total, enabled=True):
        asked.append(enabled)
        return real(description, total, enabled=enabled)

    monkeypatch.setattr(video_cli, "progress_bar", recording)
    for flag, name in (("--no-progress", "a.zarr"), ("--progress", "b.zarr")):
        r = invoke("make-smmnist", "--out", tmp_path / name, "--clips", 2, "--frames", 4, "--size", 32, flag)
        assert r.exit_code == 0, r.output
    assert asked == [False, True] and (tmp_path / "a.zarr").is_dir()


def test_user_errors_are_one_line_exit_2(tmp_path):
    r = invoke("make-smmnist", "--out", tmp_path / "s.zarr", "--split", "val")
    assert r.exit_code == 2 and "error: --split" in r.output
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 500)
    r = invoke("ingest", bad, "--out", tmp_path / "bad.zarr")
    assert r.exit_code == 2 and r.output.strip().startswith("error:") and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad.zarr").exists()
    r = invoke("baseline", "--data", tmp_path / "missing.zarr", "--out", tmp_path / "p.zarr")
    assert r.exit_code == 2 and "no such zarr store" in r.output


def test_ingest_bundled_clip(tmp_path):
    r = invoke("ingest", BUNDLED_CLIP, "--out", tmp_path / "r.zarr", "--size", 32, "--fps", 12.5)
    assert r.exit_code == 0, r.output
    r = invoke("ingest", BUNDLED_CLIP, "--out", tmp_path / "r.zarr")
    assert r.exit_code == 2 and "already exists" in r.output


def test_ingest_frame_folders_and_video_folders(tmp_path):
    """UCSD Ped's layout (Train/TrainNNN/NNN.tif, grey, 238x158) and a folder of videos, one store each."""
    import zarr
    from PIL import Image

    for seq in ("Train2", "Train10"):
        (tmp_path / "Train" / seq).mkdir(parents=True)
        for t in range(12):
            frame = np.zeros((158, 238), np.uint8)
            frame[:, 2 + 18 * t: 20 + 18 * t] = 200  # a bar moving right, across the whole width
            Image.fromarray(frame).save(tmp_path / "Train" / seq / f"{t + 1}.tif")
    r = invoke("ingest", tmp_path / "Train", "--out", tmp_path / "ped.zarr", "--size", 16, "--channels", 1,
               "--fit", "stretch", "--clip-frames", 6, "--frame-rate", 10)
    assert r.exit_code == 0, r.output
    store = zarr.open_group(str(tmp_path / "ped.zarr"), mode="r")
    video = store["video"][:]
    assert video.shape == (4, 6, 16, 16, 1) and store["labels/source_index"][:].tolist() == [0, 0, 1, 1]
    assert [s["name"] for s in store.attrs["sources"]] == ["Train2", "Train10"] and store.attrs["fps"] == 10
    assert store["labels/source_frame"][1].tolist() == [6, 7, 8, 9, 10, 11]
    column = video[0, :, 8, :, 0].argmax(1)  # where the bar is in each frame: moving right, in natural order
    assert (np.diff(column) > 0).all() and column[0] < 4  # stretch keeps the frame's left edge
    (tmp_path / "videos").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "videos" / name).write_bytes(BUNDLED_CLIP.read_bytes())
    r = invoke("ingest", tmp_path / "videos", "--out", tmp_path / "v.zarr", "--size", 16)
    assert r.exit_code == 0, r.output
    assert zarr.open_group(str(tmp_path / "v.zarr"), mode="r")["video"].shape[0] == 2
    (tmp_path / "Train" / "Train10" / "12.tif").unlink()  # one clip each, of different lengths
    r = invoke("ingest", tmp_path / "Train", "--out", tmp_path / "bad.zarr", "--size", 16)
    _one_line_error(r, "Train10: 11 frames, Train2 has 12: sources of different lengths need --clip-frames")
    assert not (tmp_path / "bad.zarr").exists()


def test_video_group_help_says_what_it_does():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    assert "video commands." not in r.output
    assert "Video datasets in zarr" in r.output


@pytest.mark.parametrize("command", ["make-smmnist", "make-driving"])
@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_out_of_range_is_refused_before_any_work(tmp_path, command, seed):
    r = invoke(command, "--out", tmp_path / "s.zarr", "--seed", seed)
    _one_line_error(r, "--seed", str(seed))
    assert list(tmp_path.iterdir()) == []


def test_make_driving_without_the_extra_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "highway_env", None)
    r = invoke("make-driving", "--out", tmp_path / "d.zarr", "--episodes", 1)
    _one_line_error(r, "highway_env", "pip install 'sciffusion[driving]'")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def smmnist_and_copy(tmp_path):
    data, pred = tmp_path / "s.zarr", tmp_path / "p.zarr"
    assert invoke("make-smmnist", "--out", data, "--clips", 3, "--frames", 20, "--size", 32).exit_code == 0
    assert invoke("baseline", "--data", data, "--out", pred).exit_code == 0
    return data, pred


def _break_store(pred, how):
    chunk = pred / "video" / "c" / "1" / "0" / "0" / "0" / "0" / "0"
    if how == "missing chunk":
        chunk.unlink()
        return "p.zarr: chunk video/c/1/0/0/0/0/0 is missing"
    if how == "corrupt chunk":
        chunk.write_bytes(b"\x00garbage")
        return "p.zarr: chunk video/c/1/0/0/0/0/0 is corrupt"
    if how == "bad json":
        (pred / "zarr.json").write_text("{")
        return "p.zarr: zarr.json is not valid JSON"
    meta = json.loads((pred / "zarr.json").read_text())
    meta["attributes"]["context"] = "10"
    (pred / "zarr.json").write_text(json.dumps(meta))
    return "p.zarr: attr 'context' must be an integer, got '10'"


@pytest.mark.parametrize("how", ["missing chunk", "corrupt chunk", "bad json", "string attr"])
def test_evaluate_names_a_broken_prediction_store(smmnist_and_copy, tmp_path, how):
    data, pred = smmnist_and_copy
    expected = _break_store(pred, how)
    r = invoke("evaluate", "--pred", pred, "--truth", data, "--out", tmp_path / "report", "--no-fvd")
    _one_line_error(r, expected)
    assert not (tmp_path / "report").exists()


def test_evaluate_names_i3d_weights_that_are_not_npz(smmnist_and_copy, tmp_path):
    data, pred = smmnist_and_copy
    weights = tmp_path / "weights.npz"
    weights.write_text("not an archive")
    r = invoke("evaluate", "--pred", pred, "--truth", data, "--out", tmp_path / "report", "--fvd-clips", 2,
               "--i3d-weights", weights)
    assert f"error: {weights}: not an npz archive of I3D weights" in r.output and r.exit_code == 2, r.output
    assert not (tmp_path / "report").exists()


def test_make_smmnist_leaves_no_temporaries_of_killed_runs(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".s.zarr.{dead.pid}.k1ll3d.tmp" / "s.zarr").mkdir(parents=True)
    r = invoke("make-smmnist", "--out", tmp_path / "s.zarr", "--clips", 1, "--frames", 2, "--size", 32)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def _edit_json(path, edit):
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def test_store_metadata_that_zarr_cannot_parse_is_named(smmnist_and_copy, tmp_path):
    data, _ = smmnist_and_copy
    video_meta = data / "video" / "zarr.json"
    good = video_meta.read_text()
    _edit_json(video_meta, lambda meta: meta.update(shape=meta["shape"][:4]))  # rank 4 with rank-5 chunks
    r = invoke("baseline", "--data", data, "--out", tmp_path / "q.zarr")
    _one_line_error(r, f"{data}: video has invalid zarr metadata")
    video_meta.write_text(good)
    _edit_json(data / "labels" / "digit_ids" / "zarr.json", lambda meta: meta.update(data_type="nonsense"))
    r = invoke("baseline", "--data", data, "--out", tmp_path / "q.zarr")
    _one_line_error(r, f"{data}: labels", "invalid zarr metadata")
    assert not (tmp_path / "q.zarr").exists()


def test_store_with_an_infinite_frame_rate_is_refused(smmnist_and_copy, tmp_path):
    data, pred = smmnist_and_copy
    _edit_json(data / "zarr.json", lambda meta: meta["attributes"].update(fps=float("inf")))
    r = invoke("grid", "--pred", pred, "--truth", data, "--out", tmp_path / "g.mp4")
    _one_line_error(r, f"{data}: attr 'fps' must be a number > 0 (finite), got inf")
    assert not (tmp_path / "g.mp4").exists()


def test_grid_animates_a_prediction_without_context_frames(tmp_path):
    from sciffusion.domains.video.zarr_store import write_video_store

    video = np.random.default_rng(0).integers(0, 256, (2, 4, 16, 16, 1), dtype=np.uint8)
    write_video_store(tmp_path / "t.zarr", video, {"fps": 5.0})
    write_video_store(tmp_path / "p.zarr", video[:, None, :3], {"fps": 5.0, "context": 0, "horizon": 3},
                      kind="prediction")
    r = invoke("grid", "--pred", tmp_path / "p.zarr", "--truth", tmp_path / "t.zarr", "--out", tmp_path / "g.gif")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "g.gif").stat().st_size > 0


def test_grid_never_replaces_an_input_or_a_folder(smmnist_and_copy, tmp_path):
    data, pred = smmnist_and_copy
    r = invoke("grid", "--pred", pred, "--truth", data, "--out", pred / "g.png", "--overwrite")
    _one_line_error(r, "--out: ", "the input")
    (tmp_path / "plots.gif").mkdir()
    (tmp_path / "plots.gif" / "keep.txt").write_text("mine")
    r = invoke("grid", "--pred", pred, "--truth", data, "--out", tmp_path / "plots.gif", "--overwrite")
    _one_line_error(r, "is an existing folder; this output is a file")
    assert (tmp_path / "plots.gif" / "keep.txt").read_text() == "mine" and not (pred / "g.png").exists()


def test_ingest_refuses_a_truncated_gif(tmp_path):
    import imageio.v3 as iio

    frames = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.gif", frames, extension=".gif", duration=100, loop=0)
    data = (tmp_path / "a.gif").read_bytes()
    (tmp_path / "cut.gif").write_bytes(data[: len(data) // 2])
    assert invoke("ingest", tmp_path / "a.gif", "--out", tmp_path / "a.zarr", "--size", 16).exit_code == 0
    r = invoke("ingest", tmp_path / "cut.gif", "--out", tmp_path / "cut.zarr", "--size", 16)
    _one_line_error(r, f"{tmp_path / 'cut.gif'}: broken GIF: truncated")
    assert not (tmp_path / "cut.zarr").exists()


@pytest.mark.parametrize("name", ["mine.npz", "mine.zarr"])
def test_ingest_points_arrays_to_the_commands_that_read_them(tmp_path, name):
    """Clips already in arrays are not footage: one line that says where they go, nothing written."""
    source = tmp_path / name
    if name.endswith(".npz"):
        np.savez(source, clips=np.zeros((2, 4, 8, 8), np.uint8))
    else:
        r = invoke("make-smmnist", "--out", source, "--clips", 1, "--frames", 4, "--size", 32)
        assert r.exit_code == 0, r.output
    r = invoke("ingest", source, "--out", tmp_path / "r.zarr")
    _one_line_error(r, "not footage (ingest decodes video files and frame images)")
    assert "video predict --input" in r.output and not (tmp_path / "r.zarr").exists()


@pytest.mark.parametrize("fps, message", [("inf", "--fps: must be a finite number > 0, got inf"),
                                          (30, "--fps: 30 is above the source rate 25 fps")])
def test_ingest_refuses_a_rate_it_cannot_resample_to(tmp_path, fps, message):
    r = invoke("ingest", BUNDLED_CLIP, "--out", tmp_path / "r.zarr", "--size", 8, "--fps", fps)
    _one_line_error(r, message)
    assert not (tmp_path / "r.zarr").exists()


def test_store_outputs_never_replace_a_file_or_land_under_one(smmnist_and_copy, tmp_path):
    data, pred = smmnist_and_copy
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    r = invoke("evaluate", "--pred", pred, "--truth", data, "--out", notes, "--no-fvd", "--overwrite")
    _one_line_error(r, f"--out: {notes} is an existing file; this output is a folder")
    r = invoke("baseline", "--data", data, "--out", notes / "p.zarr")
    _one_line_error(r, f"--out: {notes / 'p.zarr'}: {notes} is a file, not a folder")
    r = invoke("ingest", BUNDLED_CLIP, "--out", notes / "r.zarr")
    _one_line_error(r, f"{notes} is a file, not a folder")
    assert notes.read_text() == "mine"


def test_a_symlink_loop_is_a_one_line_error(smmnist_and_copy, tmp_path):
    data, pred = smmnist_and_copy
    (tmp_path / "loop.zarr").symlink_to(tmp_path / "loop.zarr")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    r = invoke("baseline", "--data", tmp_path / "loop.zarr", "--out", tmp_path / "q.zarr")
    _one_line_error(r, f"{tmp_path / 'loop.zarr'}: cannot resolve the path (Symlink loop")
    r = invoke("grid", "--pred", pred, "--truth", data, "--out", tmp_path / "loop.png", "--overwrite")
    _one_line_error(r, f"{tmp_path / 'loop.png'}: cannot resolve the path")
    assert (tmp_path / "loop.png").is_symlink() and not (tmp_path / "q.zarr").exists()


def test_evaluate_says_which_store_is_too_short_for_fvd(tmp_path):
    from sciffusion.domains.video.zarr_store import write_video_store

    video = np.random.default_rng(0).integers(0, 256, (3, 4, 16, 16, 1), dtype=np.uint8)
    write_video_store(tmp_path / "t.zarr", video, {"fps": 5.0})
    write_video_store(tmp_path / "p.zarr", video[:, None, 2:], {"fps": 5.0, "context": 2, "horizon": 2},
                      kind="prediction")
    r = invoke("evaluate", "--pred", tmp_path / "p.zarr", "--truth", tmp_path / "t.zarr", "--out", tmp_path / "rep")
    _one_line_error(r, f"{tmp_path / 'p.zarr'}: FVD needs clips of at least 9 frames, context + horizon is 4")
    assert not (tmp_path / "rep").exists()


def test_make_driving_records_the_split_it_is_given(tmp_path):
    from sciffusion.domains.video.zarr_store import open_video_store

    r = invoke("make-driving", "--out", tmp_path / "bad.zarr", "--split", "holdout")
    _one_line_error(r, "--split: must be one of train, val, test, got 'holdout'")
    assert list(tmp_path.iterdir()) == []
    pytest.importorskip("highway_env")
    r = invoke("make-driving", "--out", tmp_path / "d.zarr", "--episodes", 1, "--clip-frames", 4,
               "--clips-per-episode", 1, "--split", "test")
    assert r.exit_code == 0, r.output
    assert open_video_store(tmp_path / "d.zarr").attrs["split"] == "test"
