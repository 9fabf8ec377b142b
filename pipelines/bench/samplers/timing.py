"""Per-step overhead: wall ms per model call of each sampler's own loop with a near-free denoiser."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch import Tensor

from sciffusion.pipelines.bench.contenders import grid_for
from sciffusion.pipelines.bench.samplers.config import SamplerBenchConfig
from sciffusion.pipelines.bench.samplers.runner import build_contenders, initial_noise, run_contender

TIMING_BATCHES = (16, 65536)
TIMING_NFE = 50


def cheap_denoiser(x: Tensor, sigma: object) -> Tensor:
    """D = x / (1 + σ²): costs next to nothing, so the time left is the sampler's own."""
    return x / (1 + torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) ** 2)


def overhead(cfg: SamplerBenchConfig, log: Callable[[str], None]) -> list[dict]:
    """Median (and min) wall ms per model call of the whole sampling loop at 50 NFE with a near-free
    denoiser D = x / (1 + σ²), batch 16 and 65,536, one intra-op thread; then the bare denoiser loop."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = [_time_contender(c, cfg, log) for c in build_contenders(cfg, None, [])]
        out += [_time_bare_loop(batch, cfg) for batch in TIMING_BATCHES]
    finally:
        torch.set_num_threads(threads)
    return out


def _time_contender(c, cfg: SamplerBenchConfig, log: Callable[[str], None]) -> dict:
    steps = 1 if c.adaptive else c.steps_for_nfe(TIMING_NFE)
    rec: dict = {"library": c.library, "sampler": c.name}
    for batch in TIMING_BATCHES:
        z = initial_noise(batch, 1, torch.float32)
        times, nfe = [], 0
        try:
            for _ in range(cfg.reps):
                _, nfe, sec = run_contender(c, steps, cheap_denoiser, z, cfg.sigma_max)
                times.append(sec)
            ms, mn = 1e3 * statistics.median(times) / max(nfe, 1), 1e3 * min(times) / max(nfe, 1)
        except Exception as exc:  # a peer's failure is a result, not a crash
            log(f"  TIMING FAIL {c.library} {c.name}: {exc}")
            ms, mn = float("nan"), float("nan")
        rec["nfe"] = nfe
        rec[f"ms_per_step_b{batch}"], rec[f"min_ms_b{batch}"] = round(ms, 4), round(mn, 4)
    log(f"  timing {c.library:11s} {c.name:38s} b16 {rec['ms_per_step_b16']:.4f} ms  "
        f"b65536 {rec['ms_per_step_b65536']:.4f} ms")
    return rec


def _time_bare_loop(batch: int, cfg: SamplerBenchConfig) -> dict:
    """The loop with no sampler machinery at all: 50 denoiser calls."""
    x = torch.randn(batch, 1)
    sig = grid_for(TIMING_NFE, cfg.sigma_min, cfg.sigma_max, cfg.rho)[:-1].tolist()
    times = []
    for _ in range(cfg.reps):
        t0 = time.perf_counter()
        for s in sig:
            cheap_denoiser(x, s)
        times.append(time.perf_counter() - t0)
    return {"library": "baseline", "sampler": f"denoiser only (B={batch})", "nfe": TIMING_NFE,
            f"ms_per_step_b{batch}": round(1e3 * statistics.median(times) / TIMING_NFE, 4),
            f"min_ms_b{batch}": round(1e3 * min(times) / TIMING_NFE, 4)}
