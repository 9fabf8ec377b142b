#!/usr/bin/env bash
# Sixteenth round: 60 more minutes of the bundled SM-MNIST concat model (a fresh run from its weights,
# the bundled config cpu_smmnist_concat, one thread), on the training split of the eighth round.
set -euo pipefail
BUNDLED=$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_smmnist_concat.pt')")
sciffusion video make-smmnist --out smmnist_train.zarr --clips 2000 --frames 20 --size 64 --seed 0 --split train
sciffusion video make-smmnist --out smmnist_test.zarr --clips 256 --frames 20 --size 64 --seed 1 --split test
OMP_NUM_THREADS=1 sciffusion video train --config cpu_smmnist_concat --data smmnist_train.zarr --minutes 60 \
    --out smm_concat_ft --init-from "$BUNDLED" --no-progress
