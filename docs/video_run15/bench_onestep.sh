#!/usr/bin/env bash
# Sixteenth round: the driving prediction model's posterior mean as a one-step predictor (Euler, 1 step,
# cold), copy-last and linear re-run in the same run, first 32 held-out clips of driving_test32.zarr.
# Run from a folder holding driving_test32.zarr (sciffusion video make-driving --out driving_test32.zarr
# --episodes 32 --seed 1); writes bench_onestep/.
set -euo pipefail
M=$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_driving_predict.pt')")
OMP_NUM_THREADS=1 sciffusion bench video --data driving_test32.zarr --clips 32 \
    --model one-step=$M@init-sigma=0 --sampler euler --steps 1 --samples 1 \
    --out bench_onestep --context 10 --horizon 10 --fvd-clips 32 --batch-size 8 --device cpu --seed 0
