"""Report helpers for docking evaluation: the headline table and the RMSD CDF plot."""
from __future__ import annotations

from pathlib import Path

import numpy as np

COLUMNS = (
    ("top1_rmsd_lt2", "top1<2Å"),
    ("top1_rmsd_lt2_pb_valid", "top1<2Å&PB"),
    ("topk_rmsd_lt2", "top5<2Å"),
    ("topk_rmsd_lt2_pb_valid", "top5<2Å&PB"),
    ("top1_pb_valid", "PB-valid"),
    ("top1_rmsd_lt1", "<1Å"),
    ("top1_rmsd_lt5", "<5Å"),
    ("median_top1_rmsd", "med RMSD"),
    ("median_seconds", "med s"),
)
PERCENT = {"top1_rmsd_lt2", "top1_rmsd_lt2_pb_valid", "topk_rmsd_lt2", "topk_rmsd_lt2_pb_valid",
           "top1_pb_valid", "top1_rmsd_lt1", "top1_rmsd_lt5"}


def _cell(key: str, stats: dict | None) -> str:
    if stats is None:
        return "-"
    mean, sd = stats["mean"], stats["sd"]
    scale, unit = (100.0, "%") if key in PERCENT else (1.0, "")
    text = f"{mean * scale:.1f}{unit}" if np.isfinite(mean) else "inf"
    return text + (f"±{sd * scale:.1f}" if sd and np.isfinite(sd) else "")


def format_table(summaries: list[dict]) -> str:
    """One line per method summary (from ``run_evaluate``): mean (± sd over seeds) of the headline metrics."""
    k = summaries[0].get("top_k", 5) if summaries else 5
    header = ["method", "n", "seeds"] + [label.replace("top5", f"top{k}") for _, label in COLUMNS]
    lines = [header]
    for s in summaries:
        first = next(iter(s["per_seed"].values()))
        lines.append([s["method"], str(first["n"]), str(len(s["per_seed"]))]
                     + [_cell(key, s["mean_sd"].get(key)) for key, _ in COLUMNS])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in lines)


RATIO_COLUMNS = (
    ("top1_rmsd_lt2", "top1<2Å"),
    ("top1_rmsd_lt2_pb_valid", "top1<2Å&PB"),
    ("topk_rmsd_lt2", "top5<2Å"),
    ("top1_pb_valid", "PB-valid"),
    ("median_top1_rmsd", "med RMSD"),
    ("median_seconds", "med s"),
)


def format_ratios(summaries: list[dict], reference: str) -> str:
    """One line per method: its mean of each :data:`RATIO_COLUMNS` metric divided by the ``reference``
    method's mean ("-" where either is missing or the reference is 0)."""
    by_name = {s["method"]: s["mean_sd"] for s in summaries}
    if reference not in by_name:
        raise ValueError(f"ratios: reference method {reference!r} not among {', '.join(by_name)}")
    ref = by_name[reference]
    k = summaries[0].get("top_k", 5)
    lines = [["method"] + [label.replace("top5", f"top{k}") for _, label in RATIO_COLUMNS]]
    for name, stats in by_name.items():
        row = [name]
        for key, _ in RATIO_COLUMNS:
            mine, theirs = stats.get(key), ref.get(key)
            ok = mine is not None and theirs is not None and theirs["mean"] and np.isfinite(theirs["mean"])
            row.append(f"{mine['mean'] / theirs['mean']:.2f}" if ok and np.isfinite(mine["mean"]) else "-")
        lines.append(row)
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in lines)


def rmsd_cdf_plot(rmsds: dict[str, list[float]], path: Path, max_rmsd: float = 10.0) -> None:
    """Cumulative fraction of complexes with top-1 RMSD <= x (Å), one line per method; PNG at ``path``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    fig = Figure(figsize=(5, 3.6), dpi=120)
    ax = fig.add_subplot()
    grid = np.linspace(0, max_rmsd, 401)
    for name, values in rmsds.items():
        values = np.asarray(values, dtype=float)
        ax.plot(grid, [(values <= x).mean() for x in grid], label=f"{name} (n={len(values)})")
    ax.axvline(2.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("top-1 heavy-atom RMSD (Å)")
    ax.set_ylabel("fraction of complexes")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
