import csv
import importlib.util
import math

import pytest
import torch
from typer.testing import CliRunner

from sciffusion.pipelines.bench.gmm import W1Scorer, make_targets
from sciffusion.pipelines.bench.samplers import CSV_COLUMNS, SamplerBenchConfig, known_samplers, run_sampler_bench

HAS_KD = importlib.util.find_spec("k_diffusion") is not None
HAS_DIFFUSERS = importlib.util.find_spec("diffusers") is not None


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "run"
    libs = ("sciffusion", "k-diffusion") if HAS_KD else ("sciffusion",)
    cfg = SamplerBenchConfig(out=out, quick=True, libraries=libs, samplers=("euler", "ipndm", "dpmpp_2m", "ddpm"),
                             budgets=(5, 10), n_gmm1d=512, n_gmm64=128, timing_reps=1, ode_ref_steps=40,
                             pilot_batch=32, pilot_steps=60)
    run_sampler_bench(cfg, log=lambda s: None)
    return out


def test_csv_has_the_columns_and_finite_values(tiny_run):
    with open(tiny_run / "samplers.csv") as f:
        assert f.readline().strip().split(",") == CSV_COLUMNS
    rows = _rows(tiny_run / "samplers.csv")
    assert {r["target"] for r in rows} == {"gmm1d", "gmm64"}
    assert {r["track"] for r in rows} == {"same-grid", "own-grid"}
    assert any(r["sampler"] == "ipndm@designed" for r in rows)
    for r in rows:
        assert math.isfinite(float(r["w1"])) and float(r["w1"]) >= 0
        assert math.isfinite(float(r["ms_per_step"])) and float(r["ms_per_step"]) > 0
        if r["sampler"] == "ddpm":
            assert r["ode_rmse"] == ""  # stochastic: no ODE RMSE
        else:
            assert math.isfinite(float(r["ode_rmse"]))
        assert int(r["nfe"]) <= 10


def test_overhead_and_ratio_files(tiny_run):
    over = _rows(tiny_run / "overhead.csv")
    assert {"ms_per_step_b16", "ms_per_step_b65536"} <= set(over[0])
    ratios = _rows(tiny_run / "ratios.csv")
    assert {r["kind"] for r in ratios} >= {"quality"}
    assert (tiny_run / "samplers.png").stat().st_size < 300_000


@pytest.mark.skipif(not HAS_KD, reason="k-diffusion not installed")
def test_our_euler_reproduces_k_diffusion(tiny_run):
    rows = [r for r in _rows(tiny_run / "samplers.csv") if r["sampler"] == "euler" and r["track"] == "same-grid"]
    by = {(r["library"], r["target"], r["nfe"]): float(r["w1"]) for r in rows}
    for (lib, target, nfe), w1 in by.items():
        if lib == "sciffusion":
            assert w1 == pytest.approx(by[("k-diffusion", target, nfe)], rel=1e-4)


@pytest.mark.parametrize("target,n", [("gmm1d", 4096), ("gmm64", 1024)])
def test_scorer_is_small_for_exact_samples_and_large_for_shifted(target, n):
    mixture = make_targets()[target]
    scorer = W1Scorer(mixture, n)
    exact = mixture.sample(n, torch.Generator().manual_seed(123))
    w_exact = scorer(exact)
    w_shift = scorer(exact + 1.0)
    assert w_exact < 0.05
    assert w_shift > 10 * w_exact and w_shift > 0.1
    assert math.isnan(scorer(torch.full_like(exact, float("nan"))))


def test_exact_denoiser_is_the_identity_at_tiny_sigma_and_the_mean_at_huge_sigma():
    mixture = make_targets()["gmm1d"]
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    assert torch.allclose(mixture.denoise(x, 1e-6), x, atol=1e-9)
    mean = (mixture.weights[:, None] * mixture.means).sum(0)
    assert torch.allclose(mixture.denoise(x * 1e4, 1e4), mean.expand(7, 1), atol=5e-3)


def test_config_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError):
        SamplerBenchConfig(out=tmp_path, libraries=("torchsde",))
    with pytest.raises(ValueError):
        SamplerBenchConfig(out=tmp_path, budgets=(0, 5))


def test_config_checks_sampler_names_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="--samplers: unknown warp_drive"):
        SamplerBenchConfig(out=tmp_path, samplers=("euler", "warp_drive"))
    with pytest.raises(ValueError, match="--samplers: EDMEuler not in the libraries of --only"):
        SamplerBenchConfig(out=tmp_path, libraries=("sciffusion",), samplers=("EDMEuler",))
    SamplerBenchConfig(out=tmp_path, samplers=("euler", "dpmpp_2m@designed", "EDMEuler", "dpm_fast"))


@pytest.mark.parametrize("library,available", [("k-diffusion", HAS_KD), ("diffusers", HAS_DIFFUSERS)])
def test_declared_peer_names_are_the_built_contenders(library, available):
    from sciffusion.pipelines.bench import peers

    if not available:
        pytest.skip(f"{library} not installed")
    make = peers.kdiffusion_contenders if library == "k-diffusion" else peers.diffusers_contenders
    assert tuple(c.name for c in make(0.002, 80.0, 7.0)) == known_samplers(library)


def test_a_failed_run_leaves_nothing_at_out(tmp_path, monkeypatch):
    from sciffusion.pipelines.bench.samplers import plots

    def broken_plot(rows, path):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots, "plot", broken_plot)
    cfg = SamplerBenchConfig(out=tmp_path / "run", libraries=("sciffusion",), samplers=("euler",), budgets=(5,),
                             n_gmm1d=64, n_gmm64=16, timing=False, ode_ref_steps=20, pilot_batch=16, pilot_steps=20)
    with pytest.raises(RuntimeError, match="plot failed"):
        run_sampler_bench(cfg, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


def test_edm_coefficients_invert_the_preconditioning():
    """The diffusers adapter turns D into the scheduler's F with the core's c_skip, c_out: D = c_skip x + c_out F."""
    from sciffusion.pipelines.bench.peers import _edm_skip_out

    sigmas = [80.0, 1.0, 0.5, 0.002]
    c_skip, c_out = _edm_skip_out(sigmas, 0.5)
    assert c_skip[2] == pytest.approx(0.5) and c_out[2] == pytest.approx(0.5 / math.sqrt(2))
    assert c_skip[0] == pytest.approx(0.25 / (6400.25)) and c_out[-1] == pytest.approx(0.002, rel=1e-4)


def test_cli_reports_bad_input_in_one_line(tmp_path):
    from sciffusion.cli.main import app

    res = CliRunner().invoke(app, ["bench", "samplers", "--out", str(tmp_path), "--budgets", "5,x"])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["bench", "samplers", "--out", str(tmp_path), "--only", "nope"])
    assert res.exit_code == 2 and "--only" in res.output
