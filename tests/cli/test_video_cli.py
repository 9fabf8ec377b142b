import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sciffusion.cli.main import app

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


def _one_line_error(result, *fragments):
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output


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
