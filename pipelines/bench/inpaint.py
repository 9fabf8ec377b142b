"""`sciffusion bench inpaint`: inpainting error against closed-form conditionals, ours and diffusers' RePaint.

Cases (exact denoisers, so every error left is the method's):
- ``gauss4d``: N(μ, Σ) in 4-D with a dense Σ; coordinates 0-1 known = (1, −0.5). The conditional of
  coordinates 2-3 is Gaussian (``Gaussian.condition``).
- ``gmm2d``: a 3-component isotropic mixture in 2-D; coordinate 0 known = 1.0. The conditional of
  coordinate 1 is a bimodal 1-D mixture (``GaussianMixture.condition``).

Methods: ``replace`` (known part substituted into D), ``repaint`` (ours, around Euler–Maruyama,
jump 10 × 10 resamplings), ``posterior`` (the moment-matching posterior denoiser,
:mod:`sciffusion.common.guidance.posterior`) with an ODE and an SDE sampler, ``smc`` (twisted SMC,
:mod:`sciffusion.common.guidance.smc`, all N samples one particle population), and the peer
``diffusers_repaint`` (``RePaintScheduler`` on a 1000-step linear-β DDPM, the RePaint paper's jump 10 ×
10 resamplings; the exact denoiser wrapped as an ε-model, clipping off). All run in one process on the
same targets with the same N.

Rows: ``case,method,sampler,steps,nfe,passes,seconds,mean_err,cov_err,w1_max,known_err``: ``nfe`` =
denoiser calls; ``passes`` = forward + backward passes through the denoiser (the posterior pays
cg_iters + 1 backward passes per call); errors against the analytic conditional of the unknown
coordinates (max over coordinates of |mean error|, max |covariance error|, max 1-D W1); ``known_err``
= max |x_known − y| of the output.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

FIELDS = ["case", "method", "sampler", "steps", "nfe", "passes", "seconds", "mean_err", "cov_err", "w1_max",
          "known_err"]


@dataclass(frozen=True)
class InpaintBenchConfig:
    """``out`` folder; ``n`` samples per row; ``quick`` = fewer steps and no 250-step peer."""

    out: Path
    n: int = 20_000
    quick: bool = False
    cg_iters: int = 2
    sigma_min: float = 0.002
    sigma_max: float = 1000.0
    seed: int = 0
    overwrite: bool = False
    peers: bool = True

    def __post_init__(self) -> None:
        if self.n < 100:
            raise ValueError(f"--n: need at least 100 samples, got {self.n}")
        if self.cg_iters < 1:
            raise ValueError(f"--cg-iters: must be >= 1, got {self.cg_iters}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"sigma range: need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")


@dataclass(frozen=True)
class InpaintCase:
    """A target with its exact denoiser, the known coordinates/values and the analytic conditional."""

    name: str
    dim: int
    denoise: Callable
    known_idx: list[int]
    known_values: Any  # Tensor [len(known_idx)]
    cond_mean: Any  # Tensor [u]
    cond_cov: Any  # Tensor [u, u]
    cond_marginals: list  # 1-D GaussianMixture per unknown coordinate

    @property
    def unknown_idx(self) -> list[int]:
        return [i for i in range(self.dim) if i not in self.known_idx]


def make_cases() -> list[InpaintCase]:
    import torch

    from sciffusion.common.analytic import Gaussian, GaussianMixture

    f64 = torch.float64
    low = torch.tensor([[1.0, 0.0, 0, 0], [0.8, 0.6, 0, 0], [0.5, 0.3, 0.7, 0], [-0.6, 0.4, 0.2, 0.5]], dtype=f64)
    gauss = Gaussian(torch.tensor([0.3, -0.2, 0.5, 1.0], dtype=f64), low @ low.T)
    y = torch.tensor([1.0, -0.5], dtype=f64)
    cond = gauss.condition([0, 1], y)
    cases = [InpaintCase("gauss4d", 4, gauss.denoise, [0, 1], y, cond.mean, cond.cov,
                         [cond.marginal_1d(i) for i in range(2)])]
    mix = GaussianMixture(torch.tensor([0.4, 0.4, 0.2], dtype=f64),
                          torch.tensor([[-1.5, -1.5], [1.5, 1.5], [1.5, -2.5]], dtype=f64),
                          torch.tensor([0.6, 0.6, 0.5], dtype=f64))
    y = torch.tensor([1.0], dtype=f64)
    cmix = mix.condition([0], y)
    mean = (cmix.weights * cmix.means[:, 0]).sum()
    var = (cmix.weights * (cmix.stds**2 + cmix.means[:, 0] ** 2)).sum() - mean**2
    cases.append(InpaintCase("gmm2d", 2, mix.denoise, [0], y, mean.reshape(1), var.reshape(1, 1), [cmix]))
    return cases


def _methods(cfg: InpaintBenchConfig) -> list[tuple[str, str, int]]:
    """(method, sampler, steps) rows of ours."""
    ode_steps = (10, 20, 50) if cfg.quick else (10, 20, 50, 100)
    sde_steps = (50, 200) if cfg.quick else (50, 200, 500)
    rows = [("replace", "dpmpp_2m", s) for s in ode_steps[-1:]]
    rows += [("replace", "euler_maruyama", s) for s in sde_steps[-1:]]
    rows += [("repaint", "euler_maruyama", s) for s in ((50,) if cfg.quick else (50, 250))]
    rows += [("posterior", "dpmpp_2m", s) for s in ode_steps]
    rows += [("posterior", "heun", s) for s in ode_steps[1:]]
    rows += [("posterior", "dpmpp_2m_sde", s) for s in sde_steps]
    rows += [("smc", "twisted_smc", s) for s in ((200,) if cfg.quick else (200, 500, 1000))]
    return rows


def _score(case: InpaintCase, out, seconds: float, **row) -> dict[str, Any]:
    import torch

    from sciffusion.common.analytic import wasserstein1_1d

    xu = out[:, case.unknown_idx].double()
    cov = torch.cov(xu.T).reshape(len(case.unknown_idx), -1)
    return dict(row, case=case.name, seconds=seconds,
                mean_err=float((xu.mean(0) - case.cond_mean).abs().max()),
                cov_err=float((cov - case.cond_cov).abs().max()),
                w1_max=max(wasserstein1_1d(xu[:, i], m) for i, m in enumerate(case.cond_marginals)),
                known_err=float((out[:, case.known_idx].double() - case.known_values).abs().max()))


def run_ours(case: InpaintCase, method: str, sampler: str, steps: int, cfg: InpaintBenchConfig) -> dict[str, Any]:
    import torch

    from sciffusion.common.grids import karras_grid
    from sciffusion.common.guidance import inpaint_posterior, inpaint_replace, inpaint_smc, repaint
    from sciffusion.common.samplers import SAMPLERS

    f64 = torch.float64
    mask = torch.zeros(case.dim, dtype=f64)
    mask[case.known_idx] = 1
    known = torch.zeros(case.dim, dtype=f64)
    known[case.known_idx] = case.known_values
    grid = karras_grid(steps, cfg.sigma_min, cfg.sigma_max, dtype=f64)
    g = torch.Generator().manual_seed(cfg.seed)
    x = grid[0] * torch.randn(cfg.n, case.dim, generator=g, dtype=f64)
    backward_per_call = 0
    den = case.denoise
    if method == "posterior":
        den, backward_per_call = inpaint_posterior(case.denoise, known, mask, cfg.cg_iters), cfg.cg_iters + 1
    elif method in ("replace", "repaint"):
        den = inpaint_replace(case.denoise, known, mask)
    if method == "smc":
        fn, backward_per_call = inpaint_smc(known, mask, cg_iters=cfg.cg_iters), cfg.cg_iters + 1
    else:
        fn = SAMPLERS[sampler]
    if method == "repaint":
        fn = repaint(fn, 10, 10)
    t0 = time.perf_counter()
    res = fn(den, grid, x, generator=g)
    seconds = time.perf_counter() - t0
    return _score(case, res.x, seconds, method=method, sampler=sampler, steps=steps, nfe=res.nfe,
                  passes=res.nfe * (1 + backward_per_call))


def run_diffusers_repaint(case: InpaintCase, steps: int, cfg: InpaintBenchConfig) -> dict[str, Any]:
    """diffusers' RePaintScheduler loop (as in its RePaintPipeline) on the exact denoiser as a VP ε-model."""
    import torch
    from diffusers import RePaintScheduler

    f64 = torch.float64
    sched = RePaintScheduler(num_train_timesteps=1000, clip_sample=False)
    sched.set_timesteps(steps, jump_length=10, jump_n_sample=10)
    abar = sched.alphas_cumprod.to(f64)
    mask = torch.zeros(case.dim, dtype=f64)
    mask[case.known_idx] = 1
    original = torch.zeros(case.dim, dtype=f64)
    original[case.known_idx] = case.known_values
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.randn(cfg.n, case.dim, generator=g, dtype=f64)
    nfe = 0

    def eps_model(x_t, t: int):
        a = abar[t]
        sigma = torch.full((x_t.shape[0],), float(((1 - a) / a).sqrt()), dtype=f64)
        d = case.denoise(x_t / a.sqrt(), sigma)
        return (x_t - a.sqrt() * d) / (1 - a).sqrt()

    t0 = time.perf_counter()
    t_last = int(sched.timesteps[0]) + 1
    for t in sched.timesteps.tolist():
        if t < t_last:
            x = sched.step(eps_model(x, t), t, x, original, mask, generator=g).prev_sample
            nfe += 1
        else:
            x = sched.undo_step(x, t_last, generator=g)
        t_last = t
    seconds = time.perf_counter() - t0
    return _score(case, x, seconds, method="diffusers_repaint", sampler="RePaintScheduler", steps=steps,
                  nfe=nfe, passes=nfe)


def run_inpaint_bench(cfg: InpaintBenchConfig, log: Callable[[str], None] = lambda s: None) -> list[dict[str, Any]]:
    """Compute every row, write ``inpaint.csv``, ``ratios.csv`` and ``inpaint.png`` atomically; return rows."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.pipelines.bench.peers import peer_available

    refuse_existing(cfg.out, cfg.overwrite)
    with_peer = cfg.peers and peer_available("diffusers")
    rows: list[dict[str, Any]] = []
    for case in make_cases():
        for method, sampler, steps in _methods(cfg):
            rows.append(run_ours(case, method, sampler, steps, cfg))
            log(_line(rows[-1]))
        if with_peer:
            for steps in ((50,) if cfg.quick else (50, 250)):
                rows.append(run_diffusers_repaint(case, steps, cfg))
                log(_line(rows[-1]))
    ratios = ratio_rows(rows)
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        _write_csv(tmp / "inpaint.csv", FIELDS, rows)
        _write_csv(tmp / "ratios.csv", list(ratios[0]) if ratios else ["case"], ratios)
        _plot(rows, tmp / "inpaint.png")
    if not with_peer:
        log("diffusers not installed (pip install -e .[bench]): peer rows and ratios skipped")
    return rows


def ratio_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case: our best posterior or SMC row costing at most the best diffusers RePaint row's passes, vs that row."""
    out = []
    for case in sorted({r["case"] for r in rows}):
        peer = [r for r in rows if r["case"] == case and r["method"] == "diffusers_repaint"]
        if not peer:
            continue
        best_peer = min(peer, key=lambda r: r["w1_max"])
        ours = [r for r in rows if r["case"] == case and r["method"] in ("posterior", "smc")
                and r["passes"] <= best_peer["passes"]]
        if not ours:
            continue
        best = min(ours, key=lambda r: r["w1_max"])
        out.append({"case": case, "ours": f"{best['method']}/{best['sampler']}/{best['steps']}", "ours_nfe": best["nfe"],
                    "ours_passes": best["passes"], "ours_w1": best["w1_max"],
                    "peer": f"diffusers_repaint/{best_peer['steps']}", "peer_nfe": best_peer["nfe"],
                    "peer_w1": best_peer["w1_max"], "w1_ratio": best["w1_max"] / best_peer["w1_max"],
                    "passes_ratio": best["passes"] / best_peer["passes"]})
    return out


def _fmt(v: Any) -> Any:
    return f"{v:.4g}" if isinstance(v, float) else v


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: _fmt(r[k]) for k in fields})


def _line(r: dict[str, Any]) -> str:
    return (f"{r['case']:<8}{r['method']:<18}{r['sampler']:<17}{r['steps']:>5}{r['nfe']:>7}{r['passes']:>7}"
            f"{r['seconds']:>8.2f}{r['mean_err']:>10.4f}{r['cov_err']:>10.4f}{r['w1_max']:>10.4f}{r['known_err']:>10.1e}")


def format_table(rows: list[dict[str, Any]], ratios: Optional[list[dict[str, Any]]] = None) -> str:
    head = (f"{'case':<8}{'method':<18}{'sampler':<17}{'steps':>5}{'nfe':>7}{'passes':>7}{'sec':>8}"
            f"{'mean_err':>10}{'cov_err':>10}{'w1_max':>10}{'known_err':>10}")
    lines = [head] + [_line(r) for r in rows]
    for q in ratios or []:
        lines.append(f"{q['case']}: {q['ours']} W1 {q['ours_w1']:.4f} ({q['ours_passes']} passes) vs "
                     f"{q['peer']} W1 {q['peer_w1']:.4f} ({q['peer_nfe']} passes): W1 ratio {q['w1_ratio']:.3f}, "
                     f"cost ratio {q['passes_ratio']:.3f}")
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cases = sorted({r["case"] for r in rows})
    fig = Figure(figsize=(5 * len(cases), 4), dpi=100)
    FigureCanvasAgg(fig)
    for i, case in enumerate(cases):
        ax = fig.add_subplot(1, len(cases), i + 1)
        groups: dict[str, list] = {}
        for r in rows:
            if r["case"] == case:
                groups.setdefault(f"{r['method']} ({r['sampler']})", []).append(r)
        for j, (label, rs) in enumerate(sorted(groups.items())):
            rs = sorted(rs, key=lambda r: r["passes"])
            ax.plot([r["passes"] for r in rs], [r["w1_max"] for r in rs], "o-", color=f"C{j}", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("forward + backward passes through D")
        ax.set_ylabel("max 1-D W1 to the analytic conditional")
        ax.set_title(case)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


__all__ = ["InpaintBenchConfig", "format_table", "make_cases", "ratio_rows", "run_inpaint_bench"]
