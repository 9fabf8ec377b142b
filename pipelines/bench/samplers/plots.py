"""``samplers.png``: error against NFE for every library, one column per target × track."""
from __future__ import annotations

import math
from pathlib import Path

from sciffusion.pipelines.bench.contenders import TRACKS
from sciffusion.pipelines.bench.samplers.results import Row

LIBRARY_COLOURS = {"sciffusion": "tab:red", "k-diffusion": "tab:blue", "diffusers": "tab:green"}


def plot(rows: list[Row], path: Path) -> None:
    """ODE RMSE and W1 vs NFE (log-log), one column per target × track: the best-per-NFE envelope of
    each library in colour, every individual sampler in light grey."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    targets = list(dict.fromkeys(r.target for r in rows))
    cols = [(t, tr) for t in targets for tr in TRACKS]
    if not cols:
        raise ValueError(f"{path}: no rows to plot")
    fig = Figure(figsize=(3.4 * len(cols), 6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(cols), squeeze=False)
    for j, (target, track) in enumerate(cols):
        sel = [r for r in rows if r.target == target and r.track == track and r.nfe > 0]
        for i, metric in enumerate(("ode_rmse", "w1")):
            ax = axes[i][j]
            for key in dict.fromkeys((r.library, r.sampler) for r in sel):
                pts = sorted((r.nfe, getattr(r, metric)) for r in sel if (r.library, r.sampler) == key
                             and math.isfinite(getattr(r, metric)))
                if pts:
                    ax.plot(*zip(*pts), color="0.85", lw=0.7, zorder=1)
            for lib, colour in LIBRARY_COLOURS.items():
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
