"""Ours vs peers in numbers: best of each side per target, track and budget; per-step cost of the
same algorithm in each library."""
from __future__ import annotations

import math
from typing import Optional

from sciffusion.pipelines.bench.contenders import TRACKS
from sciffusion.pipelines.bench.samplers.results import Row
from sciffusion.pipelines.bench.samplers.timing import TIMING_BATCHES

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
                    ov = getattr(ours, metric) if ours else float("nan")
                    pv = getattr(peer, metric) if peer else float("nan")
                    out.append({"kind": "quality", "target": target, "track": track, "nfe": budget, "metric": metric,
                                "ours_sampler": ours.sampler if ours else "", "ours": ov,
                                "peer_library": peer.library if peer else "", "peer_sampler": peer.sampler if peer else "",
                                "peer": pv, "ratio": ov / pv if pv and math.isfinite(pv) else float("nan")})
    return out


def overhead_ratios(timing: list[dict]) -> list[dict]:
    """ms per model call, ours / peer, for each pair of :data:`OVERHEAD_PAIRS` timed in this run."""
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
