"""`bench inpaint`: CSV layout, the posterior beats replacement on Gaussian data, outputs not clobbered."""
import csv
import importlib.util

import pytest
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.pipelines.bench.inpaint import FIELDS, InpaintBenchConfig, make_cases, ratio_rows, run_inpaint_bench

HAVE_DIFFUSERS = importlib.util.find_spec("diffusers") is not None


def test_cases_are_proper_conditionals():
    gauss, mix = make_cases()
    assert gauss.unknown_idx == [2, 3] and mix.unknown_idx == [1]
    assert abs(float(mix.cond_marginals[0].weights.sum()) - 1) < 1e-12
    assert float(mix.cond_cov[0, 0]) > 1  # bimodal: variance well above a component's 0.36


@pytest.mark.slow
def test_rows_csv_ratios_and_plot(tmp_path):
    out = tmp_path / "inp"
    rows = run_inpaint_bench(InpaintBenchConfig(out=out, quick=True, n=2000, peers=HAVE_DIFFUSERS))
    with open(out / "inpaint.csv") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == FIELDS and len(table) == len(rows)
    assert all(float(r["known_err"]) == 0 for r in table)
    g = {(r["method"], r["sampler"], r["steps"]): r for r in rows if r["case"] == "gauss4d"}
    post, repl = g[("posterior", "dpmpp_2m", 50)], g[("replace", "dpmpp_2m", 50)]
    assert post["w1_max"] < 0.06 < 0.3 < repl["w1_max"], (post, repl)
    assert post["passes"] == 4 * post["nfe"]  # 1 forward + (cg_iters = 2) + 1 backward passes
    m = {(r["method"], r["steps"]): r for r in rows if r["case"] == "gmm2d"}
    assert m[("smc", 200)]["w1_max"] < 0.6 * m[("posterior", 50)]["w1_max"]  # weights fix the mode masses
    if HAVE_DIFFUSERS:
        ratios = ratio_rows(rows)
        assert [q["case"] for q in ratios] == ["gauss4d", "gmm2d"]
        assert ratios[0]["w1_ratio"] < 0.5 and ratios[0]["passes_ratio"] <= 1
        assert (out / "ratios.csv").read_text().startswith("case,ours,")
    assert (out / "inpaint.png").stat().st_size > 1000


def test_cli_refuses_existing_output(tmp_path):
    out = tmp_path / "inp"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    result = CliRunner().invoke(app, ["bench", "inpaint", "--out", str(out)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert (out / "mine.txt").read_text() == "keep"


def test_config_validates(tmp_path):
    with pytest.raises(ValueError, match="--cg-iters"):
        InpaintBenchConfig(out=tmp_path, cg_iters=0)
    with pytest.raises(ValueError, match="--n:"):
        InpaintBenchConfig(out=tmp_path, n=5)
