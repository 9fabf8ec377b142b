import json
from pathlib import Path

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
