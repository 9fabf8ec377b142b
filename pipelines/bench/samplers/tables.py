"""The run's tables on the terminal: best of ours vs best peer, and the overhead ratios."""
from __future__ import annotations

from sciffusion.pipelines.bench.contenders import TRACKS
from sciffusion.pipelines.bench.samplers.files import fmt
from sciffusion.pipelines.bench.samplers.results import BenchResult


def print_tables(result: BenchResult) -> None:
    """Notices, one quality table per target × track, then the overhead table (rich, 160 columns)."""
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
                t.add_row(str(r["nfe"]), r["metric"], fmt(r["ours"]), r["ours_sampler"], fmt(r["peer"]),
                          f"{r['peer_library']} {r['peer_sampler']}", fmt(r["ratio"], 3))
            console.print(t)
    o = [r for r in result.ratios if r["kind"] == "overhead"]
    if o:
        t = Table(title="overhead: ms per model call, near-free denoiser (ratio < 1: ours faster)")
        for col in ("batch metric", "ours", "ms", "peer", "ms", "ratio"):
            t.add_column(col)
        for r in o:
            t.add_row(r["metric"], r["ours_sampler"], fmt(r["ours"]), f"{r['peer_library']} {r['peer_sampler']}",
                      fmt(r["peer"]), fmt(r["ratio"], 3))
        console.print(t)
