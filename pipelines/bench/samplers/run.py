"""One run of ``sciffusion bench samplers``: quality, timing, ratios, then every file at once."""
from __future__ import annotations

from typing import Callable

from sciffusion.pipelines.bench.samplers.config import SamplerBenchConfig
from sciffusion.pipelines.bench.samplers.results import BenchResult

VERSIONED_PACKAGES = ("torch", "diffusers", "k-diffusion", "numpy")


def run_sampler_bench(cfg: SamplerBenchConfig, log: Callable[[str], None] = print) -> BenchResult:
    """Run the benchmark and write ``samplers.csv``, ``overhead.csv``, ``ratios.csv``, ``config.json``
    and ``samplers.png`` into the folder ``cfg.out`` atomically (an existing one only with
    ``cfg.overwrite``, refused before any work); print the tables."""
    import torch

    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.common.io.provenance import package_versions
    from sciffusion.pipelines.bench.samplers.files import write_outputs
    from sciffusion.pipelines.bench.samplers.plots import plot
    from sciffusion.pipelines.bench.samplers.ratios import overhead_ratios, quality_ratios
    from sciffusion.pipelines.bench.samplers.runner import quality
    from sciffusion.pipelines.bench.samplers.tables import print_tables
    from sciffusion.pipelines.bench.samplers.timing import overhead

    refuse_existing(cfg.out, cfg.overwrite)
    versions = {**package_versions(VERSIONED_PACKAGES), "threads": torch.get_num_threads()}
    log(f"versions {versions}")
    notices: list[str] = []
    rows = quality(cfg, log, notices)
    for n in notices:
        log(f"notice: {n}")
    timing = overhead(cfg, log) if cfg.timing else []
    ms = {(t["library"], t["sampler"]): t.get("ms_per_step_b16", float("nan")) for t in timing}
    for r in rows:  # a sampler on our designed grid costs what it costs on the Karras grid
        r.ms_per_step = ms.get((r.library, r.sampler.split("@")[0]), float("nan"))
    result = BenchResult(rows, timing, quality_ratios(rows, cfg.budget_list) + overhead_ratios(timing), notices)
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        write_outputs(tmp, result, cfg, versions)
        if cfg.plot:
            plot(rows, tmp / "samplers.png")
    print_tables(result)
    log(f"wrote {cfg.out}")
    return result
