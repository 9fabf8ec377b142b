#!/usr/bin/env python3
"""Sampler benchmark (issue 3): ours vs k-diffusion and diffusers. Thin wrapper around
``sciffusion bench samplers``; see :mod:`sciffusion.pipelines.bench.samplers`.

Usage: python benchmarks/samplers.py [--quick] [--no-timing] [--out DIR]
"""
import argparse
from pathlib import Path

from sciffusion.pipelines.bench.samplers import SamplerBenchConfig, run_sampler_bench

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_samplers")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    a = ap.parse_args()
    run_sampler_bench(SamplerBenchConfig(out=Path(a.out), quick=a.quick, timing=not a.no_timing))
