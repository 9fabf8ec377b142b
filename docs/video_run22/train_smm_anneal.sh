#!/usr/bin/env bash
# Twenty-fourth round (session 39): the bundled SM-MNIST concat model trained on from its own weights with a
# lower learning rate and a slower EMA (smm_anneal.yaml: cpu_smmnist_concat with lr 2e-4, no warm-up, EMA 0.999,
# 85 minutes) and the same with the change-weighted loss (smm_cw3.yaml: + data.change_weight 3, 70 minutes),
# one thread each, side by side on the two cores, on the training split of the eighth round.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUNDLED=$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_smmnist_concat.pt')")
sciffusion video make-smmnist --out smmnist_train.zarr --clips 2000 --frames 20 --size 64 --seed 0 --split train
sciffusion video make-smmnist --out smmnist_test.zarr --clips 256 --frames 20 --size 64 --seed 1 --split test
OMP_NUM_THREADS=1 taskset -c 1 sciffusion video train --config "$HERE/smm_anneal.yaml" --data smmnist_train.zarr \
    --out smm_anneal --init-from "$BUNDLED" --precision auto --no-progress &
OMP_NUM_THREADS=1 taskset -c 0 sciffusion video train --config "$HERE/smm_cw3.yaml" --data smmnist_train.zarr \
    --out smm_cw3 --init-from "$BUNDLED" --precision auto --no-progress &
wait
