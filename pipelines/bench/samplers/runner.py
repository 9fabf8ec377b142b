"""Sample quality: every contender on each target from the same noise, at every budget.

Every sampler is driven by the EXACT denoiser of a Gaussian mixture (:mod:`..gmm`), from the same
initial noise (seed 1234) and with the same noise generator (seed 5678), in float32. Deterministic
samplers are also compared with a float64 500-step Heun solution from the same noise (ODE RMSE).
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import torch
from torch import Tensor

from sciffusion.common.samplers.base import CountingDenoiser
from sciffusion.pipelines.bench.contenders import Contender, grid_for
from sciffusion.pipelines.bench.samplers.config import (
    SEED_INIT, SEED_NOISE, SEED_PILOT, SamplerBenchConfig, our_own_grid_samplers, our_samplers,
)
from sciffusion.pipelines.bench.samplers.results import Row


def initial_noise(n: int, dim: int, dtype: torch.dtype) -> Tensor:
    """The shared standard-normal z [n, dim] (seed 1234, drawn in float64), cast to ``dtype``."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(SEED_INIT), dtype=torch.float64).to(dtype)


def run_contender(contender: Contender, steps: int, denoise: Callable, z: Tensor,
                  sigma_max: float) -> tuple[Tensor, int, float]:
    """Sample from ``sigma_max * z`` with the shared noise generator: (x, model calls, seconds)."""
    counted = CountingDenoiser(denoise)
    gen = torch.Generator().manual_seed(SEED_NOISE)
    sample = contender.make(steps)
    t0 = time.perf_counter()
    x = sample(counted, sigma_max * z, gen)
    return x, counted.nfe, time.perf_counter() - t0


def ode_reference(denoise: Callable, z: Tensor, cfg: SamplerBenchConfig) -> Tensor:
    """float64 Heun (EDM Alg. 1, last step Euler) on the Karras grid of ``ode_ref_steps`` steps."""
    from sciffusion.common.samplers.heun import heun

    sigmas = grid_for(cfg.ode_ref_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho).double()
    return heun(denoise, sigmas, cfg.sigma_max * z.double()).x


def build_contenders(cfg: SamplerBenchConfig, designed_grid: Optional[Callable[[int], Tensor]],
                     notices: list[str]) -> list[Contender]:
    """The chosen libraries' contenders kept by ``cfg.samplers``; a peer that is not installed is
    skipped with a notice."""
    from sciffusion.pipelines.bench import ours, peers

    out: list[Contender] = []
    for lib in cfg.libraries:
        if lib == "sciffusion":
            names = tuple(n for n in our_samplers() if cfg.wants(n, lib))
            own = tuple(n for n in our_own_grid_samplers() if cfg.wants(n, lib))
            out += ours.our_contenders(cfg.sigma_min, cfg.sigma_max, cfg.rho, names, designed_grid, own)
            continue
        if not peers.peer_available(lib):
            notices.append(f"{lib} is not installed: skipped (install the 'bench' extra)")
            continue
        make = peers.kdiffusion_contenders if lib == "k-diffusion" else peers.diffusers_contenders
        out += [c for c in make(cfg.sigma_min, cfg.sigma_max, cfg.rho) if cfg.wants(c.name, lib)]
    return out


def designed_grid_for(cfg: SamplerBenchConfig, mixture) -> Callable[[int], Tensor]:
    """Our own-grid track: the error-equidistributing grid of :mod:`sciffusion.common.grid_design`,
    calibrated by a pilot of ``pilot_batch`` samples (own seed, not the benchmark's noise;
    ``pilot_steps`` model calls, once per target)."""
    from sciffusion.common.grid_design import DesignedGrid, GridDesignConfig

    g = torch.Generator().manual_seed(SEED_PILOT)
    z = torch.randn(cfg.pilot_batch, mixture.dim, generator=g, dtype=torch.float64)
    return DesignedGrid(mixture.denoise, z, GridDesignConfig(sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max,
                                                             pilot_steps=cfg.pilot_steps))


def quality(cfg: SamplerBenchConfig, log: Callable[[str], None], notices: list[str]) -> list[Row]:
    """W1 / sliced W1 and ODE RMSE of every contender at every budget (adaptive ones: once), both targets."""
    from sciffusion.pipelines.bench.gmm import W1Scorer, make_targets, ode_rmse

    rows: list[Row] = []
    for tname, mixture in make_targets().items():
        if tname not in cfg.targets:
            continue
        n = cfg.n_samples(tname)
        scorer = W1Scorer(mixture, n)
        z = initial_noise(n, mixture.dim, torch.float32)
        designed = designed_grid_for(cfg, mixture) if "sciffusion" in cfg.libraries else None
        contenders = build_contenders(cfg, designed, notices if tname == cfg.targets[0] else [])
        if not contenders:
            raise ValueError(f"--only: nothing to run ({'; '.join(notices) or 'no contender selected'})")
        x_ref = ode_reference(mixture.denoise, z, cfg)
        log(f"{tname}: N={n}, ODE reference W1 {scorer(x_ref):.5f}")
        for c in contenders:
            for budget in ([None] if c.adaptive else cfg.budget_list):
                steps = 1 if budget is None else c.steps_for_nfe(budget)
                try:
                    x, nfe, sec = run_contender(c, steps, mixture.denoise, z, cfg.sigma_max)
                    w1 = scorer(x)
                    rmse = ode_rmse(x, x_ref) if c.deterministic else float("nan")
                except Exception as exc:  # a peer's failure is a result, not a crash
                    log(f"  FAIL {c.library} {c.name} budget={budget}: {type(exc).__name__}: {exc}")
                    x, nfe, sec, w1, rmse = None, -1, 0.0, float("nan"), float("nan")
                for track in c.tracks:
                    rows.append(Row(c.library, c.name, track, tname, nfe, w1, rmse))
                log(f"  {tname:6s} {c.library:11s} {c.name:38s} nfe={nfe:3d} w1={w1:.5f} rmse={rmse:.3e} {sec:.2f}s")
    return rows
