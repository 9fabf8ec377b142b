from typer.testing import CliRunner

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


def test_help_lists_options():
    r = runner.invoke(app, ["demo", "mnist", "--help"])
    assert r.exit_code == 0 and "--minutes" in r.output and "--overwrite" in r.output
