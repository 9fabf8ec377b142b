#!/bin/bash
# every store judged by the session's judge (not retrained) and by the pixel rules, one table (core 0)
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs33
STORES=$(ls -d gen_*/ | tr -d / | grep -v autoguide | paste -sd,)
taskset -c 0 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated $STORES --classifier judge/classifier.pt --out events33 --frames 10 --seed 0 --no-progress --overwrite
