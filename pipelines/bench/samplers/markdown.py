"""A Markdown summary of a finished run, read back from its files (``docs/benchmarks/samplers.md``)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from sciffusion.pipelines.bench.contenders import TRACKS
from sciffusion.pipelines.bench.samplers.results import CSV_COLUMNS

METHOD = (
    "Exact float64 Gaussian-mixture denoisers (gmm1d: W1; gmm64: sliced W1 over 256 directions), float32 "
    "sampler state, shared noise (seeds 1234 / 5678), ODE RMSE against a float64 500-step Heun solution from "
    "the same noise (deterministic samplers only). `same-grid`: everyone on the Karras grid "
    "(0.002, 80, ρ = 7, then 0); `own-grid`: each library's own schedules (ours: the error-equidistributing "
    "grid of `common/grid_design.py`, suffix `@designed`). Best of each side at NFE ≤ budget; "
    "ratio = ours / best peer (< 1: ours better)."
)


def _read(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def markdown_report(out: Path, command: str) -> str:
    """Best-of-ours vs best peer per target and track, overhead ratios and every row of the run in
    ``out`` (made by ``command``), as Markdown."""
    ratios, rows = _read(out / "ratios.csv"), _read(out / "samplers.csv")
    info = json.loads((out / "config.json").read_text())
    lines = ["# Sampler benchmark: sciffusion vs k-diffusion and diffusers", "",
             f"Command: `{command}`", "", f"Versions: `{info['versions']}`", "", METHOD, ""]
    quality = [r for r in ratios if r["kind"] == "quality"]
    for target in dict.fromkeys(r["target"] for r in quality):
        for track in TRACKS:
            sel = [r for r in quality if r["target"] == target and r["track"] == track]
            if not sel:
                continue
            lines += [f"## {target}, {track}", "",
                      "| NFE | metric | ours | our sampler | best peer | peer sampler | ratio |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {r['nfe']} | {r['metric']} | {r['ours']} | {r['ours_sampler']} | {r['peer']} | "
                      f"{r['peer_library']} {r['peer_sampler']} | {r['ratio']} |" for r in sel]
            lines.append("")
    over = [r for r in ratios if r["kind"] == "overhead"]
    if over:
        lines += ["## Overhead (ms per model call, near-free denoiser, 1 thread)", "",
                  "| batch | ours | ms | peer | ms | ratio |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['metric'].split('_b')[-1]} | {r['ours_sampler']} | {r['ours']} | {r['peer_library']} "
                  f"{r['peer_sampler']} | {r['peer']} | {r['ratio']} |" for r in over]
        lines.append("")
    lines += ["## All rows (`samplers.csv`)", "", "| " + " | ".join(CSV_COLUMNS) + " |",
              "|" + "---|" * len(CSV_COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in CSV_COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"
