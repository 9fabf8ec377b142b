"""`sciffusion bench ...`: bad input is one line before any work, outputs are atomic and never clobbered."""
import pytest
from typer.testing import CliRunner

from sciffusion.cli.main import app

# the smallest real run: our Euler only, one budget, few samples, no timing
TINY = ["--only", "sciffusion", "--samplers", "euler", "--budgets", "5", "--n-gmm1d", "64", "--n-gmm64", "16",
        "--no-timing"]


def _samplers(out, *args):
    return CliRunner().invoke(app, ["bench", "samplers", "--out", str(out), *args])


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_group_help_says_what_bench_does():
    out = CliRunner().invoke(app, ["--help"]).output
    assert "bench commands." not in out
    assert "Benchmarks against peer libraries" in out


def test_samplers_refuses_an_existing_out_before_any_work(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    line = _one_error_line(_samplers(tmp_path, *TINY))
    assert "already exists" in line and "--overwrite" in line
    assert (tmp_path / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_samplers_overwrite_replaces_the_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "samplers.csv").write_text("stale\n")
    result = _samplers(out, *TINY, "--overwrite")
    assert result.exit_code == 0, result.output
    rows = (out / "samplers.csv").read_text().splitlines()
    assert rows[0].startswith("library,sampler,track") and len(rows) == 1 + 2 * 2  # 2 targets x 2 tracks
    assert {p.name for p in out.iterdir()} == {"samplers.csv", "overhead.csv", "ratios.csv", "config.json",
                                               "samplers.png"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("names,unknown", [("euler,warp_drive", "warp_drive"), ("warp_drive", "warp_drive"),
                                           ("euler,heun@designed", "heun@designed")])
def test_samplers_unknown_name_is_one_line_before_any_work(tmp_path, names, unknown):
    out = tmp_path / "run"
    line = _one_error_line(_samplers(out, "--samplers", names))
    assert line.startswith("error: --samplers: unknown") and unknown in line
    assert "euler" in line.split("known:")[1] and "EDMEuler" in line  # the known names, ours and the peers'
    assert not out.exists()


def test_samplers_name_of_a_library_left_out_by_only(tmp_path):
    line = _one_error_line(_samplers(tmp_path / "run", "--only", "sciffusion", "--samplers", "euler,EDMEuler"))
    assert "--samplers" in line and "EDMEuler" in line and "--only" in line


@pytest.mark.parametrize("args,option", [
    (["--only", "nope"], "--only"),
    (["--only", "sciffusion,sciffusion"], "--only"),
    (["--only", ","], "--only"),
    (["--samplers", "euler,euler"], "--samplers"),
    (["--samplers", ","], "--samplers"),
    (["--budgets", "5,x"], "--budgets"),
    (["--budgets", "0,5"], "--budgets"),
    (["--budgets", "5,5"], "--budgets"),
    (["--budgets", ","], "--budgets"),
    (["--n-gmm1d", "1"], "--n-gmm1d"),
])
def test_samplers_bad_lists_are_one_line(tmp_path, args, option):
    out = tmp_path / "run"
    assert _one_error_line(_samplers(out, *args)).startswith(f"error: {option}:")
    assert not out.exists()


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_inpaint_seed_out_of_range_is_one_line(tmp_path, seed):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["bench", "inpaint", "--out", str(out), "--seed", seed])
    assert _one_error_line(result).startswith("error: --seed:")
    assert not out.exists()


@pytest.mark.parametrize("command,options", [
    ("docking", ["--index", "--out", "--overwrite", "--methods", "--pred", "--workers", "--exhaustiveness",
                 "--top-k", "--no-posebusters", "--dock", "--refine-steps", "--rank-by", "--guidance-scale"]),
    ("video-baselines", ["--out", "--overwrite", "--smmnist-clips", "--driving-episodes", "--fvd-clips",
                         "--context", "--horizon", "--seed", "--i3d-weights", "--no-fvd"]),
])
def test_every_option_is_in_help(command, options):
    result = CliRunner().invoke(app, ["bench", command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, option


def test_docking_bad_method_and_pred_are_one_line(tmp_path):
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand\n")
    for args, start in ((["--methods", "crystal,diffdock"], "error: --methods: unknown diffdock"),
                        (["--methods", "crystal", "--pred", "runs/x"], "error: --pred: expected NAME=PRED_DIR"),
                        (["--methods", ","], "error: --methods:")):
        result = CliRunner().invoke(app, ["bench", "docking", "--index", str(index), "--out", str(tmp_path / "o"),
                                          *args])
        assert _one_error_line(result).startswith(start)
    assert not (tmp_path / "o").exists()


def test_docking_refuses_an_existing_out(tmp_path):
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand\n")
    result = CliRunner().invoke(app, ["bench", "docking", "--index", str(index), "--out", str(tmp_path),
                                      "--methods", "crystal"])
    assert "already exists" in _one_error_line(result)


@pytest.mark.parametrize("args,start", [
    (["--seed", "-1"], "error: --seed:"),
    (["--context", "1"], "error: --context:"),
    (["--datasets", "smmnist,kitti"], "error: --datasets:"),
])
def test_video_baselines_bad_input_is_one_line(tmp_path, args, start):
    out = tmp_path / "vb"
    result = CliRunner().invoke(app, ["bench", "video-baselines", "--out", str(out), "--no-fvd", *args])
    assert _one_error_line(result).startswith(start)
    assert not out.exists()


def test_video_baselines_tiny_run_and_overwrite(tmp_path):
    out = tmp_path / "vb"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    args = ["bench", "video-baselines", "--out", str(out), "--datasets", "smmnist", "--smmnist-clips", "2",
            "--no-fvd", "--context", "2", "--horizon", "1"]
    assert "already exists" in _one_error_line(CliRunner().invoke(app, args))
    result = CliRunner().invoke(app, args + ["--overwrite"])
    assert result.exit_code == 0, result.output
    assert "smmnist  copy-last" in result.output and not (out / "stale.txt").exists()
    assert (out / "baselines.csv").read_text().splitlines()[0].startswith("dataset,method,clips,psnr")


@pytest.mark.parametrize("seeds", ["a,b", "-1", "0,0", ""])
def test_docking_bad_seed_list_is_one_line(tmp_path, seeds):
    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand\n")
    result = CliRunner().invoke(app, ["bench", "docking", "--index", str(index), "--out", str(tmp_path / "o"),
                                      "--dock", "r=random", "--seeds", seeds])
    assert _one_error_line(result).startswith("error: --seeds:")
    assert not (tmp_path / "o").exists()
