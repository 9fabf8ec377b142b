"""``sciffusion bench samplers``: our samplers against k-diffusion and diffusers, in one run.

Every sampler is driven by the EXACT denoiser of a Gaussian mixture (:mod:`.gmm`), from the same
initial noise (seed 1234) and with the same noise generator (seed 5678), in float32, at model-call
budgets (NFE) 5, 10, 20, 35, 50. Two tracks:

- ``same-grid``: everyone on the Karras grid (σ_min 0.002, σ_max 80, ρ 7, then 0);
- ``own-grid``: each library's best schedule (diffusers' own timestep grids, k-diffusion's
  dpm_fast / dpm_adaptive, our designed grid from :mod:`sciffusion.common.grid_design`).

Metrics: W1 (gmm1d) / sliced W1 (gmm64) of the samples; ODE RMSE of deterministic samplers against a
float64 500-step Heun solution from the same noise; ms per model call of the sampler's own loop with
a near-free denoiser at batch 16 and 65,536 (one intra-op thread).
"""
from __future__ import annotations

import csv
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor

from sciffusion.pipelines.bench.contenders import LIBRARIES, TRACKS, Contender, grid_for

SEED_INIT, SEED_NOISE = 1234, 5678
FULL_BUDGETS = (5, 10, 20, 35, 50)
QUICK_BUDGETS = (5, 20)
TARGETS = ("gmm1d", "gmm64")
CSV_COLUMNS = ["library", "sampler", "track", "target", "nfe", "w1", "ode_rmse", "ms_per_step"]
TIMING_BATCHES = (16, 65536)
OUR_DEFAULT_SAMPLERS = ("euler", "heun", "ddim", "ddpm", "euler_maruyama", "pc", "dpm_solver_1", "dpmpp_2m",
                        "dpmpp_2m_sde", "exp3m", "unipc", "unipc3", "adaptive_ode")
OUR_OWN_GRID_SAMPLERS = ("dpmpp_2m", "unipc", "unipc3")


@dataclass(frozen=True)
class SamplerBenchConfig:
    """Resolved settings of one benchmark run. ``None`` sizes mean: the full run's (65,536 / 32,768
    samples, 7 timing repeats) or, with ``quick``, 4,096 / 2,048 samples and 2 repeats."""

    out: Path
    quick: bool = False
    timing: bool = True
    libraries: tuple[str, ...] = LIBRARIES
    samplers: tuple[str, ...] = ()          # empty: all; else keep contenders with these names
    budgets: tuple[int, ...] = ()           # empty: FULL_BUDGETS (QUICK_BUDGETS with quick)
    n_gmm1d: Optional[int] = None
    n_gmm64: Optional[int] = None
    timing_reps: Optional[int] = None
    ode_ref_steps: int = 500
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    targets: tuple[str, ...] = TARGETS
    plot: bool = True
    pilot_batch: int = 512                  # designed grid: pilot samples and fine-grid steps
    pilot_steps: int = 200

    def __post_init__(self) -> None:
        bad = [lib for lib in self.libraries if lib not in LIBRARIES]
        if bad or not self.libraries:
            raise ValueError(f"--only: unknown libraries {bad} (choose from {', '.join(LIBRARIES)})")
        if any(b < 1 for b in self.budgets):
            raise ValueError(f"--budgets: every budget must be >= 1, got {self.budgets}")
        for name, n in (("n_gmm1d", self.n_gmm1d), ("n_gmm64", self.n_gmm64)):
            if n is not None and n < 2:
                raise ValueError(f"{name}: must be >= 2, got {n}")
        if self.ode_ref_steps < 2:
            raise ValueError(f"ode_ref_steps: must be >= 2, got {self.ode_ref_steps}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"sigma range: need 0 < min < max, got ({self.sigma_min}, {self.sigma_max})")
        if any(t not in TARGETS for t in self.targets) or not self.targets:
            raise ValueError(f"targets: choose from {TARGETS}, got {self.targets}")

    @property
    def budget_list(self) -> tuple[int, ...]:
        return self.budgets or (QUICK_BUDGETS if self.quick else FULL_BUDGETS)

    def n_samples(self, target: str) -> int:
        given = {"gmm1d": self.n_gmm1d, "gmm64": self.n_gmm64}[target]
        if given is not None:
            return given
        return {"gmm1d": 4096, "gmm64": 2048}[target] if self.quick else {"gmm1d": 65536, "gmm64": 32768}[target]

    @property
    def reps(self) -> int:
        return self.timing_reps or (2 if self.quick else 7)


@dataclass
class Row:
    library: str
    sampler: str
    track: str
    target: str
    nfe: int
    w1: float
    ode_rmse: float
    ms_per_step: float = float("nan")


@dataclass
class BenchResult:
    rows: list[Row]
    overhead: list[dict]
    ratios: list[dict]
    notices: list[str] = field(default_factory=list)


class _Counted:
    """Counts model calls (one per call on the whole batch)."""

    __slots__ = ("fn", "n")

    def __init__(self, fn: Callable[[Tensor, object], Tensor]):
        self.fn, self.n = fn, 0

    def __call__(self, x: Tensor, sigma: object) -> Tensor:
        self.n += 1
        return self.fn(x, sigma)


def _initial_noise(n: int, dim: int, dtype: torch.dtype) -> Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(SEED_INIT), dtype=torch.float64).to(dtype)


def _run(contender: Contender, steps: int, denoise: Callable, z: Tensor, sigma_max: float) -> tuple[Tensor, int, float]:
    den = _Counted(denoise)
    gen = torch.Generator().manual_seed(SEED_NOISE)
    sample = contender.make(steps)
    t0 = time.perf_counter()
    x = sample(den, sigma_max * z, gen)
    return x, den.n, time.perf_counter() - t0


def ode_reference(denoise: Callable, z: Tensor, cfg: SamplerBenchConfig) -> Tensor:
    """float64 Heun (EDM Alg. 1, last step Euler) on the Karras grid of ``ode_ref_steps`` steps."""
    from sciffusion.common.samplers.heun import heun

    sigmas = grid_for(cfg.ode_ref_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho).double()
    return heun(denoise, sigmas, cfg.sigma_max * z.double()).x


def build_contenders(cfg: SamplerBenchConfig, designed_grid: Optional[Callable[[int], Tensor]],
                     notices: list[str]) -> list[Contender]:
    from sciffusion.pipelines.bench import ours, peers

    out: list[Contender] = []
    for lib in cfg.libraries:
        if lib == "sciffusion":
            names = tuple(n for n in OUR_DEFAULT_SAMPLERS + _extra_ours() if not cfg.samplers or n in cfg.samplers
                          or n + ours.OWN_GRID_SUFFIX in cfg.samplers)
            own = tuple(n for n in OUR_OWN_GRID_SAMPLERS + _extra_own() if not cfg.samplers or n in cfg.samplers
                        or n + ours.OWN_GRID_SUFFIX in cfg.samplers)
            out += ours.our_contenders(cfg.sigma_min, cfg.sigma_max, cfg.rho, names, designed_grid, own)
            continue
        if not peers.peer_available(lib):
            notices.append(f"{lib} is not installed: skipped (install the 'bench' extra)")
            continue
        make = peers.kdiffusion_contenders if lib == "k-diffusion" else peers.diffusers_contenders
        found = make(cfg.sigma_min, cfg.sigma_max, cfg.rho)
        out += [c for c in found if not cfg.samplers or c.name in cfg.samplers]
    return out


def _extra_ours() -> tuple[str, ...]:
    """Registered samplers beyond the defaults that the benchmark also runs (new solvers)."""
    from sciffusion.common.samplers.registry import SAMPLERS

    return tuple(n for n, s in SAMPLERS.items() if n not in OUR_DEFAULT_SAMPLERS and s.options.get("bench", True)
                 and n not in ("heun_churn",))


def _extra_own() -> tuple[str, ...]:
    from sciffusion.common.samplers.registry import SAMPLERS

    return tuple(n for n, s in SAMPLERS.items() if n not in OUR_OWN_GRID_SAMPLERS and n not in OUR_DEFAULT_SAMPLERS
                 and not s.stochastic and not s.adaptive and n != "heun_churn")


SEED_PILOT = 4242


def _designed_grid_for(cfg: SamplerBenchConfig, mixture) -> Callable[[int], Tensor]:
    """Our own-grid track: the error-equidistributing grid of :mod:`sciffusion.common.grid_design`,
    calibrated by a pilot of ``pilot_batch`` samples (own seed, not the benchmark's noise;
    ``pilot_steps`` model calls, once per target)."""
    from sciffusion.common.grid_design import DesignedGrid, GridDesignConfig

    g = torch.Generator().manual_seed(SEED_PILOT)
    z = torch.randn(cfg.pilot_batch, mixture.dim, generator=g, dtype=torch.float64)
    return DesignedGrid(mixture.denoise, z, GridDesignConfig(sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max,
                                                             pilot_steps=cfg.pilot_steps))


def quality(cfg: SamplerBenchConfig, log: Callable[[str], None], notices: list[str]) -> list[Row]:
    from sciffusion.pipelines.bench.gmm import W1Scorer, make_targets, ode_rmse

    rows: list[Row] = []
    for tname, mixture in make_targets().items():
        if tname not in cfg.targets:
            continue
        n = cfg.n_samples(tname)
        scorer = W1Scorer(mixture, n)
        z = _initial_noise(n, mixture.dim, torch.float32)
        x_ref = ode_reference(mixture.denoise, z, cfg)
        log(f"{tname}: N={n}, ODE reference W1 {scorer(x_ref):.5f}")
        designed = _designed_grid_for(cfg, mixture) if "sciffusion" in cfg.libraries else None
        for c in build_contenders(cfg, designed, notices if tname == cfg.targets[0] else []):
            for budget in ([None] if c.adaptive else cfg.budget_list):
                steps = 1 if budget is None else c.steps_for_nfe(budget)
                try:
                    x, nfe, sec = _run(c, steps, mixture.denoise, z, cfg.sigma_max)
                    w1 = scorer(x)
                    rmse = ode_rmse(x, x_ref) if c.deterministic else float("nan")
                except Exception as exc:  # a peer's failure is a result, not a crash
                    log(f"  FAIL {c.library} {c.name} budget={budget}: {type(exc).__name__}: {exc}")
                    x, nfe, sec, w1, rmse = None, -1, 0.0, float("nan"), float("nan")
                for track in c.tracks:
                    rows.append(Row(c.library, c.name, track, tname, nfe, w1, rmse))
                log(f"  {tname:6s} {c.library:11s} {c.name:38s} nfe={nfe:3d} w1={w1:.5f} rmse={rmse:.3e} {sec:.2f}s")
    return rows


def _cheap_denoiser(x: Tensor, sigma: object) -> Tensor:
    return x / (1 + torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) ** 2)


def overhead(cfg: SamplerBenchConfig, log: Callable[[str], None]) -> list[dict]:
    """Median (and min) wall ms per model call of the whole sampling loop at 50 NFE with a near-free
    denoiser D = x / (1 + σ²), batch 16 and 65,536, one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = []
    try:
        for c in build_contenders(cfg, None, []):
            steps = 1 if c.adaptive else c.steps_for_nfe(50)
            rec: dict = {"library": c.library, "sampler": c.name}
            for batch in TIMING_BATCHES:
                z = _initial_noise(batch, 1, torch.float32)
                times, nfe = [], 0
                try:
                    for _ in range(cfg.reps):
                        _, nfe, sec = _run(c, steps, _cheap_denoiser, z, cfg.sigma_max)
                        times.append(sec)
                    ms, mn = 1e3 * statistics.median(times) / max(nfe, 1), 1e3 * min(times) / max(nfe, 1)
                except Exception as exc:
                    log(f"  TIMING FAIL {c.library} {c.name}: {exc}")
                    ms, mn = float("nan"), float("nan")
                rec["nfe"] = nfe
                rec[f"ms_per_step_b{batch}"], rec[f"min_ms_b{batch}"] = round(ms, 4), round(mn, 4)
            out.append(rec)
            log(f"  timing {c.library:11s} {c.name:38s} b16 {rec['ms_per_step_b16']:.4f} ms  "
                f"b65536 {rec['ms_per_step_b65536']:.4f} ms")
        for batch in TIMING_BATCHES:  # the loop with no sampler machinery at all
            x = torch.randn(batch, 1)
            sig = grid_for(50, cfg.sigma_min, cfg.sigma_max, cfg.rho)[:-1].tolist()
            times = []
            for _ in range(cfg.reps):
                t0 = time.perf_counter()
                for s in sig:
                    _cheap_denoiser(x, s)
                times.append(time.perf_counter() - t0)
            out.append({"library": "baseline", "sampler": f"denoiser only (B={batch})", "nfe": 50,
                        f"ms_per_step_b{batch}": round(1e3 * statistics.median(times) / 50, 4),
                        f"min_ms_b{batch}": round(1e3 * min(times) / 50, 4)})
    finally:
        torch.set_num_threads(threads)
    return out


# ----------------------------------------------------------------------------- summaries
OVERHEAD_PAIRS = (  # (ours, peer library, peer sampler): the same algorithm in each library
    ("euler", "k-diffusion", "euler"), ("euler", "diffusers", "EDMEuler"),
    ("heun", "k-diffusion", "heun"), ("heun", "diffusers", "HeunDiscrete(karras)"),
    ("dpmpp_2m", "k-diffusion", "dpmpp_2m"), ("dpmpp_2m", "diffusers", "EDMDPMSolver(2M)"),
    ("dpmpp_2m", "diffusers", "DPMSolverMultistep(2M,karras)"),
    ("dpmpp_2m_sde", "k-diffusion", "dpmpp_2m_sde"), ("dpmpp_2m_sde", "diffusers", "EDMDPMSolver(2M-SDE)"),
    ("exp3m", "diffusers", "EDMDPMSolver(3M)"), ("dpmpp_3m", "diffusers", "EDMDPMSolver(3M)"),
    ("lms", "k-diffusion", "lms"),
    ("unipc", "diffusers", "UniPC(bh2,karras)"), ("unipc3", "diffusers", "UniPC(bh2,order3,karras)"),
    ("unipc_bh2", "diffusers", "UniPC(bh2,karras)"), ("unipc3_bh2", "diffusers", "UniPC(bh2,order3,karras)"),
    ("ddim", "diffusers", "DDIM(trailing)"),
)


def _best(rows: list[Row], metric: str, budget: int) -> Optional[Row]:
    ok = [r for r in rows if 0 < r.nfe <= budget and math.isfinite(getattr(r, metric))]
    return min(ok, key=lambda r: getattr(r, metric), default=None)


def quality_ratios(rows: list[Row], budgets: tuple[int, ...]) -> list[dict]:
    """Best of ours vs best peer per target / track / budget (rows with NFE <= budget) and metric."""
    out = []
    for target in dict.fromkeys(r.target for r in rows):
        for track in TRACKS:
            sel = [r for r in rows if r.target == target and r.track == track]
            for budget in budgets:
                for metric in ("ode_rmse", "w1"):
                    ours = _best([r for r in sel if r.library == "sciffusion"], metric, budget)
                    peer = _best([r for r in sel if r.library != "sciffusion"], metric, budget)
                    if ours is None and peer is None:
                        continue
                    ov, pv = (getattr(ours, metric) if ours else float("nan")), (getattr(peer, metric) if peer else float("nan"))
                    out.append({"kind": "quality", "target": target, "track": track, "nfe": budget, "metric": metric,
                                "ours_sampler": ours.sampler if ours else "", "ours": ov,
                                "peer_library": peer.library if peer else "", "peer_sampler": peer.sampler if peer else "",
                                "peer": pv, "ratio": ov / pv if pv and math.isfinite(pv) else float("nan")})
    return out


def overhead_ratios(timing: list[dict]) -> list[dict]:
    by = {(t["library"], t["sampler"]): t for t in timing}
    out = []
    for ours, lib, peer in OVERHEAD_PAIRS:
        a, b = by.get(("sciffusion", ours)), by.get((lib, peer))
        if a is None or b is None:
            continue
        for batch in TIMING_BATCHES:
            key = f"ms_per_step_b{batch}"
            out.append({"kind": "overhead", "target": "", "track": "", "nfe": a.get("nfe", ""), "metric": key,
                        "ours_sampler": ours, "ours": a[key], "peer_library": lib, "peer_sampler": peer,
                        "peer": b[key], "ratio": a[key] / b[key] if b[key] else float("nan")})
    return out


def _fmt(v: object, p: int = 4) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{p}g}"
    return str(v)


def write_outputs(out: Path, result: BenchResult, cfg: SamplerBenchConfig, versions: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "samplers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in result.rows:
            w.writerow([r.library, r.sampler, r.track, r.target, r.nfe, _fmt(r.w1, 6), _fmt(r.ode_rmse, 6),
                        _fmt(r.ms_per_step, 4)])
    tkeys = ["library", "sampler", "nfe"] + [k for b in TIMING_BATCHES for k in (f"ms_per_step_b{b}", f"min_ms_b{b}")]
    with open(out / "overhead.csv", "w", newline="") as f:
        w = csv.DictWriter(f, tkeys, restval="")
        w.writeheader()
        w.writerows(result.overhead)
    rkeys = ["kind", "target", "track", "nfe", "metric", "ours_sampler", "ours", "peer_library", "peer_sampler",
             "peer", "ratio"]
    with open(out / "ratios.csv", "w", newline="") as f:
        w = csv.DictWriter(f, rkeys)
        w.writeheader()
        w.writerows({k: _fmt(v, 5) if isinstance(v, float) else v for k, v in r.items()} for r in result.ratios)
    cfg_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    (out / "config.json").write_text(json.dumps({"config": cfg_dict, "versions": versions,
                                                 "notices": result.notices}, indent=2) + "\n")


def print_tables(result: BenchResult, budgets: tuple[int, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    for n in result.notices:
        console.print(f"[yellow]notice:[/] {n}")
    q = [r for r in result.ratios if r["kind"] == "quality"]
    for target in dict.fromkeys(r["target"] for r in q):
        for track in TRACKS:
            sel = [r for r in q if r["target"] == target and r["track"] == track]
            if not sel:
                continue
            t = Table(title=f"{target} — {track}: best of ours vs best peer (NFE <= budget; ratio < 1: ours better)")
            for col in ("NFE", "metric", "ours", "ours sampler", "best peer", "peer sampler", "ratio"):
                t.add_column(col)
            for r in sel:
                t.add_row(str(r["nfe"]), r["metric"], _fmt(r["ours"]), r["ours_sampler"], _fmt(r["peer"]),
                          f"{r['peer_library']} {r['peer_sampler']}", _fmt(r["ratio"], 3))
            console.print(t)
    o = [r for r in result.ratios if r["kind"] == "overhead"]
    if o:
        t = Table(title="overhead: ms per model call, near-free denoiser (ratio < 1: ours faster)")
        for col in ("batch metric", "ours", "ms", "peer", "ms", "ratio"):
            t.add_column(col)
        for r in o:
            t.add_row(r["metric"], r["ours_sampler"], _fmt(r["ours"]), f"{r['peer_library']} {r['peer_sampler']}",
                      _fmt(r["peer"]), _fmt(r["ratio"], 3))
        console.print(t)


def plot(rows: list[Row], path: Path) -> None:
    """ODE RMSE and W1 vs NFE (log-log), one column per target × track: the best-per-NFE envelope of
    each library in colour, every individual sampler in light grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r.target for r in rows))
    cols = [(t, tr) for t in targets for tr in TRACKS]
    fig, axes = plt.subplots(2, len(cols), figsize=(3.4 * len(cols), 6), squeeze=False)
    colours = {"sciffusion": "tab:red", "k-diffusion": "tab:blue", "diffusers": "tab:green"}
    for j, (target, track) in enumerate(cols):
        sel = [r for r in rows if r.target == target and r.track == track and r.nfe > 0]
        for i, metric in enumerate(("ode_rmse", "w1")):
            ax = axes[i][j]
            for key in dict.fromkeys((r.library, r.sampler) for r in sel):
                pts = sorted((r.nfe, getattr(r, metric)) for r in sel if (r.library, r.sampler) == key
                             and math.isfinite(getattr(r, metric)))
                if pts:
                    ax.plot(*zip(*pts), color="0.85", lw=0.7, zorder=1)
            for lib, colour in colours.items():
                lib_rows = [r for r in sel if r.library == lib and math.isfinite(getattr(r, metric))]
                nfes = sorted({r.nfe for r in lib_rows})
                env = [(n, min(getattr(r, metric) for r in lib_rows if r.nfe <= n)) for n in nfes]
                if env:
                    ax.plot(*zip(*env), "o-", color=colour, ms=3, lw=1.5, label=lib, zorder=2)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{target} {track}", fontsize=9)
            ax.set_ylabel("ODE RMSE" if metric == "ode_rmse" else ("W1" if target == "gmm1d" else "sliced W1"),
                          fontsize=8)
            ax.set_xlabel("NFE", fontsize=8)
            ax.tick_params(labelsize=7)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.08, top=0.95, wspace=0.35, hspace=0.35)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def run_sampler_bench(cfg: SamplerBenchConfig, log: Callable[[str], None] = print) -> BenchResult:
    """Run the benchmark and write ``samplers.csv``, ``overhead.csv``, ``ratios.csv``, ``config.json``
    and ``samplers.png`` under ``cfg.out``; print the tables."""
    import importlib.metadata as md

    versions = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for lib in ("diffusers", "k-diffusion", "numpy"):
        try:
            versions[lib] = md.version(lib)
        except md.PackageNotFoundError:
            versions[lib] = None
    log(f"versions {versions}")
    notices: list[str] = []
    rows = quality(cfg, log, notices)
    for n in notices:
        log(f"notice: {n}")
    write_outputs(cfg.out, BenchResult(rows, [], quality_ratios(rows, cfg.budget_list), notices), cfg, versions)
    timing = overhead(cfg, log) if cfg.timing else []
    ms = {(t["library"], t["sampler"]): t.get("ms_per_step_b16", float("nan")) for t in timing}
    for r in rows:  # a sampler on our designed grid costs what it costs on the Karras grid
        r.ms_per_step = ms.get((r.library, r.sampler.split("@")[0]), float("nan"))
    ratios = quality_ratios(rows, cfg.budget_list) + overhead_ratios(timing)
    result = BenchResult(rows, timing, ratios, notices)
    write_outputs(cfg.out, result, cfg, versions)
    if cfg.plot:
        plot(rows, cfg.out / "samplers.png")
    print_tables(result, cfg.budget_list)
    log(f"wrote {cfg.out}")
    return result


def markdown_report(out: Path, command: str) -> str:
    """A Markdown summary of a finished run read back from its CSV files (used for
    ``docs/benchmarks/samplers.md``): best-of-ours vs best peer, overhead ratios, full table."""
    def read(name: str) -> list[dict]:
        with open(out / name) as f:
            return list(csv.DictReader(f))

    ratios, rows = read("ratios.csv"), read("samplers.csv")
    info = json.loads((out / "config.json").read_text())
    L = ["# Sampler benchmark: sciffusion vs k-diffusion and diffusers", "",
         f"Command: `{command}`", "", f"Versions: `{info['versions']}`", "",
         "Exact float64 Gaussian-mixture denoisers (gmm1d: W1; gmm64: sliced W1 over 256 directions), float32 "
         "sampler state, shared noise (seeds 1234 / 5678), ODE RMSE against a float64 500-step Heun solution from "
         "the same noise (deterministic samplers only). `same-grid`: everyone on the Karras grid "
         "(0.002, 80, ρ = 7, then 0); `own-grid`: each library's own schedules (ours: the error-equidistributing "
         "grid of `common/grid_design.py`, suffix `@designed`). Best of each side at NFE ≤ budget; "
         "ratio = ours / best peer (< 1: ours better).", ""]
    for target in dict.fromkeys(r["target"] for r in ratios if r["kind"] == "quality"):
        for track in TRACKS:
            sel = [r for r in ratios if r["kind"] == "quality" and r["target"] == target and r["track"] == track]
            if not sel:
                continue
            L += [f"## {target}, {track}", "", "| NFE | metric | ours | our sampler | best peer | peer sampler | ratio |",
                  "|---|---|---|---|---|---|---|"]
            L += [f"| {r['nfe']} | {r['metric']} | {r['ours']} | {r['ours_sampler']} | {r['peer']} | "
                  f"{r['peer_library']} {r['peer_sampler']} | {r['ratio']} |" for r in sel]
            L.append("")
    over = [r for r in ratios if r["kind"] == "overhead"]
    if over:
        L += ["## Overhead (ms per model call, near-free denoiser, 1 thread)", "",
              "| batch | ours | ms | peer | ms | ratio |", "|---|---|---|---|---|---|"]
        L += [f"| {r['metric'].split('_b')[-1]} | {r['ours_sampler']} | {r['ours']} | {r['peer_library']} "
              f"{r['peer_sampler']} | {r['peer']} | {r['ratio']} |" for r in over]
        L.append("")
    L += ["## All rows (`samplers.csv`)", "", "| " + " | ".join(CSV_COLUMNS) + " |", "|" + "---|" * len(CSV_COLUMNS)]
    L += ["| " + " | ".join(r[c] for c in CSV_COLUMNS) + " |" for r in rows]
    return "\n".join(L) + "\n"
