"""`bench likelihood`: CSV layout, the exact trace meets its 1e-3-nat goal, outputs are not clobbered."""
import csv

import pytest
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.pipelines.bench.likelihood import LikelihoodBenchConfig, run_likelihood_bench


def test_rows_csv_and_plot(tmp_path):
    out = tmp_path / "lik"
    rows = run_likelihood_bench(LikelihoodBenchConfig(out=out, dims=(2, 4), probes=(1, 16), points=2, tol=1e-5))
    with open(out / "likelihood.csv") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["case", "method", "nfe", "abs_error_nats"]
    assert [(r["case"], r["method"]) for r in table] == [(f"gaussian_d{d}", m) for d in (2, 4)
                                                         for m in ("exact", "hutchinson_1", "hutchinson_16")]
    exact = [r for r in rows if r["method"] == "exact"]
    assert all(r["abs_error_nats"] < 1e-3 and r["nfe"] > 10 for r in exact)
    hutch = {(r["case"], r["method"]): r["abs_error_nats"] for r in rows if r["method"] != "exact"}
    assert all(v > 1e-3 for v in hutch.values())  # a single probe is noisy: the exact trace is the better tool
    assert (out / "likelihood.png").stat().st_size > 1000


def test_cli_refuses_existing_output(tmp_path):
    out = tmp_path / "lik"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    result = CliRunner().invoke(app, ["bench", "likelihood", "--out", str(out)])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert (out / "mine.txt").read_text() == "keep"


def test_config_validates(tmp_path):
    with pytest.raises(ValueError):
        LikelihoodBenchConfig(out=tmp_path, dims=(0,))
