"""``sciffusion bench samplers``: our samplers against k-diffusion and diffusers, in one run.

Every sampler is driven by the EXACT denoiser of a Gaussian mixture (:mod:`..gmm`), from the same
initial noise (seed 1234) and with the same noise generator (seed 5678), in float32, at model-call
budgets (NFE) 5, 10, 20, 35, 50. Two tracks:

- ``same-grid``: everyone on the Karras grid (σ_min 0.002, σ_max 80, ρ 7, then 0);
- ``own-grid``: each library's best schedule (diffusers' own timestep grids, k-diffusion's
  dpm_fast / dpm_adaptive, our designed grid from :mod:`sciffusion.common.grid_design`).

Metrics: W1 (gmm1d) / sliced W1 (gmm64) of the samples; ODE RMSE of deterministic samplers against a
float64 500-step Heun solution from the same noise; ms per model call of the sampler's own loop with
a near-free denoiser at batch 16 and 65,536 (one intra-op thread).

One job per module: ``config`` (settings, name checks), ``runner`` (quality), ``timing`` (overhead),
``ratios``, ``files`` (CSV/JSON), ``tables`` (terminal), ``plots``, ``markdown`` (docs page), ``run``.
"""
from sciffusion.pipelines.bench.samplers.config import SamplerBenchConfig, known_samplers
from sciffusion.pipelines.bench.samplers.markdown import markdown_report
from sciffusion.pipelines.bench.samplers.results import CSV_COLUMNS, BenchResult, Row
from sciffusion.pipelines.bench.samplers.run import run_sampler_bench

__all__ = ["CSV_COLUMNS", "BenchResult", "Row", "SamplerBenchConfig", "known_samplers", "markdown_report",
           "run_sampler_bench"]
