#!/bin/bash
# remake the stores of docs/video_run17 (core 1), then the judge (documented protocol: 2 epochs, seed 0)
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs31
[ -d driving_train600.zarr ] || (time taskset -c 1 sciffusion video make-driving --out driving_train600.zarr --episodes 600 --size 64 --seed 2 --perturb 0.3) > mk_train600.log 2>&1
[ -d driving_cls_test.zarr ] || (time taskset -c 1 sciffusion video make-driving --out driving_cls_test.zarr --episodes 200 --seed 0 --clip-frames 20 --perturb 0.5) > mk_cls.log 2>&1
M=/work/main/domains/video/data/video_driving.pt
G="--clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance 8"
for ev in cut-in normal; do
  [ -d gen_cw3_$ev ] || taskset -c 1 sciffusion video generate --model $M --event $ev $G --out gen_cw3_$ev > gen_cw3_$ev.log 2>&1
done
(time taskset -c 1 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated gen_cw3_cut-in,gen_cw3_normal --out judge --frames 10 --epochs 2 --seed 0 --no-progress) > judge.log 2>&1
echo done > data.done
