"""The run's files: ``samplers.csv``, ``overhead.csv``, ``ratios.csv`` and ``config.json``."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

from sciffusion.pipelines.bench.samplers.config import SamplerBenchConfig
from sciffusion.pipelines.bench.samplers.results import CSV_COLUMNS, BenchResult
from sciffusion.pipelines.bench.samplers.timing import TIMING_BATCHES

OVERHEAD_COLUMNS = ["library", "sampler", "nfe"] + [k for b in TIMING_BATCHES
                                                    for k in (f"ms_per_step_b{b}", f"min_ms_b{b}")]
RATIO_COLUMNS = ["kind", "target", "track", "nfe", "metric", "ours_sampler", "ours", "peer_library", "peer_sampler",
                 "peer", "ratio"]


def fmt(v: object, p: int = 4) -> str:
    """A float to ``p`` significant digits, nan to an empty cell; anything else as str."""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{p}g}"
    return str(v)


def write_outputs(folder: Path, result: BenchResult, cfg: SamplerBenchConfig, versions: dict) -> None:
    """Write the four files into ``folder`` (an existing, empty folder: the run's temporary)."""
    with open(folder / "samplers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in result.rows:
            w.writerow([r.library, r.sampler, r.track, r.target, r.nfe, fmt(r.w1, 6), fmt(r.ode_rmse, 6),
                        fmt(r.ms_per_step, 4)])
    with open(folder / "overhead.csv", "w", newline="") as f:
        w = csv.DictWriter(f, OVERHEAD_COLUMNS, restval="")
        w.writeheader()
        w.writerows(result.overhead)
    with open(folder / "ratios.csv", "w", newline="") as f:
        w = csv.DictWriter(f, RATIO_COLUMNS)
        w.writeheader()
        w.writerows({k: fmt(v, 5) if isinstance(v, float) else v for k, v in r.items()} for r in result.ratios)
    cfg_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    (folder / "config.json").write_text(json.dumps({"config": cfg_dict, "versions": versions,
                                                    "notices": result.notices}, indent=2) + "\n")
