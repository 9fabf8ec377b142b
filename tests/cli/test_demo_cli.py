import pytest
from typer.testing import CliRunner

from sciffusion.cli.demo import summary_lines
from sciffusion.cli.main import app

runner = CliRunner()


def test_refuses_existing_out_dir(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = runner.invoke(app, ["demo", "mnist", "--out", str(out), "--minutes", "0.1"])
    assert r.exit_code != 0
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "already exists" in lines[0]
    assert (out / "keep.txt").read_text() == "mine"


def test_unknown_sampler_is_a_user_error(tmp_path):
    r = runner.invoke(app, ["demo", "mnist", "--out", str(tmp_path / "d"), "--sampler", "nope"])
    assert r.exit_code == 2 and "error: sampler" in r.output
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("flag, value", [("--train-steps", "0"), ("--minutes", "0")])
def test_training_bounds_are_checked(tmp_path, flag, value):
    r = runner.invoke(app, ["demo", "mnist", "--out", str(tmp_path / "d"), flag, value])
    assert r.exit_code == 2 and r.output.strip().splitlines() == [r.output.strip()] and f"error: {flag}" in r.output
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_seed_out_of_range_is_a_one_line_error(tmp_path, seed):
    r = runner.invoke(app, ["demo", "mnist", "--out", str(tmp_path / "d"), "--seed", seed])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --seed") and seed in lines[0]
    assert not (tmp_path / "d").exists()


def test_help_lists_options():
    r = runner.invoke(app, ["demo", "mnist", "--help"])
    assert r.exit_code == 0
    for option in ("--train-steps", "--minutes", "--overwrite", "--no-progress", "--seed"):
        assert option in r.output
    assert "--max-steps" not in r.output  # one step option: --train-steps


def _metrics(stopped_by, steps):
    return {"train_steps": steps, "train_steps_budget": 1300, "train_minutes_cap": 20.0, "stopped_by": stopped_by,
            "train_seconds": 1200.0}


def test_summary_says_which_bound_stopped_training(tmp_path):
    (tmp_path / "samples.png").write_bytes(b"x")
    by_steps = summary_lines(_metrics("steps", 1300), tmp_path)[0]
    by_time = summary_lines(_metrics("time", 340), tmp_path)[0]
    assert by_steps.startswith("trained 1300 steps (--train-steps)") and "cap" not in by_steps
    assert by_time.startswith("trained 340 of 1300 steps") and "20-minute cap (--minutes)" in by_time
    assert "undertrained" in by_time


@pytest.mark.slow
def test_wrote_line_lists_exactly_the_files_written(tmp_path):
    out = tmp_path / "d"
    r = runner.invoke(app, ["demo", "mnist", "--out", str(out), "--train-steps", "1", "--samples", "1", "--steps", "1",
                            "--bpd-digits", "0", "--inpaint-digits", "0", "--no-progress"])
    assert r.exit_code == 0, r.output
    wrote = [line for line in r.output.splitlines() if line.startswith("wrote ")]
    assert len(wrote) == 1
    listed = wrote[0][len(f"wrote {out}/"):].split(", ")
    assert sorted(listed) == sorted(p.name for p in out.iterdir())
    assert "inpaint.png" not in listed and "samples.png" in listed and "model.ckpt" in listed
    assert "trained 1 steps (--train-steps)" in r.output and "bits/dim" not in r.output
