#!/usr/bin/env bash
# Twenty-fifth round (session 40): the bundled SM-MNIST concat model fine-tuned with higher training noise levels
# (smm_hi.yaml, 30 min) beside its control with the default levels (smm_ctl.yaml, 30 min), one core each, side by
# side, bf16 mixed precision (a CPU with AMX/avx512_bf16); then smm_hi trained 40 more minutes (smm_hi2.yaml).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUNDLED=$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_smmnist_concat.pt')")
sciffusion video make-smmnist --out smmnist_train.zarr --clips 2000 --frames 20 --size 64 --seed 0 --split train
sciffusion video make-smmnist --out smmnist_test.zarr --clips 256 --frames 20 --size 64 --seed 1 --split test
OMP_NUM_THREADS=1 taskset -c 0 sciffusion video train --config "$HERE/smm_hi.yaml" --data smmnist_train.zarr \
    --out hi --init-from "$BUNDLED" --precision auto --no-progress &
OMP_NUM_THREADS=1 taskset -c 1 sciffusion video train --config "$HERE/smm_ctl.yaml" --data smmnist_train.zarr \
    --out ctl --init-from "$BUNDLED" --precision auto --no-progress &
wait
OMP_NUM_THREADS=1 taskset -c 0 sciffusion video train --config "$HERE/smm_hi2.yaml" --data smmnist_train.zarr \
    --out hi2 --init-from hi/model.ckpt --precision auto --no-progress
