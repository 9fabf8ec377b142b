#!/usr/bin/env bash
# Twenty-sixth round (session 41): the bundled SM-MNIST concat model fine-tuned for 85 minutes two ways, one core
# each, side by side, bf16 mixed precision (AMD EPYC with avx512_bf16):
#   lu   — training noise levels log-uniform on [0.01, 80] (smm_lu.yaml), 85 min;
#   hilo — ln sigma ~ N(0.5, 1.2) for 55 min (smm_hilo1.yaml), then EDM's default N(-1.2, 1.2) for 30 (smm_hilo2.yaml).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUNDLED=$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_smmnist_concat.pt')")
[ -d smmnist_train.zarr ] || sciffusion video make-smmnist --out smmnist_train.zarr --clips 2000 --frames 20 --size 64 --seed 0 --split train
[ -d smmnist_test.zarr ] || sciffusion video make-smmnist --out smmnist_test.zarr --clips 256 --frames 20 --size 64 --seed 1 --split test
OMP_NUM_THREADS=1 taskset -c 0 sciffusion video train --config "$HERE/smm_lu.yaml" --data smmnist_train.zarr \
    --out lu --init-from "$BUNDLED" --precision auto --no-progress &
( OMP_NUM_THREADS=1 taskset -c 1 sciffusion video train --config "$HERE/smm_hilo1.yaml" --data smmnist_train.zarr \
    --out hilo1 --init-from "$BUNDLED" --precision auto --no-progress &&
  OMP_NUM_THREADS=1 taskset -c 1 sciffusion video train --config "$HERE/smm_hilo2.yaml" --data smmnist_train.zarr \
    --out hilo2 --init-from hilo1/model.ckpt --precision auto --no-progress ) &
wait
