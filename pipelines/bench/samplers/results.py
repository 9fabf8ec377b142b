"""What one run of the sampler benchmark produces: a row per (contender, target, budget, track)."""
from __future__ import annotations

from dataclasses import dataclass, field

CSV_COLUMNS = ["library", "sampler", "track", "target", "nfe", "w1", "ode_rmse", "ms_per_step"]


@dataclass
class Row:
    """One sample quality measurement; ``nfe`` −1 marks a failed run (metrics nan), ``ms_per_step``
    is filled in from the timing pass (nan without it)."""

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
    """Quality rows, timing records (``overhead.csv``), ours-vs-peer ratios and notices (skipped libraries)."""

    rows: list[Row]
    overhead: list[dict]
    ratios: list[dict]
    notices: list[str] = field(default_factory=list)
