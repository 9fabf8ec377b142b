#!/bin/bash
# session 33, run from /work/runs33 with the repo's venv, one job per core
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs33
taskset -c 0 sciffusion video make-driving --out driving_train600.zarr --episodes 600 --size 64 --seed 2 --perturb 0.3   # 9.5 min
taskset -c 1 sciffusion video make-driving --out driving_cls_test.zarr --episodes 200 --seed 0 --clip-frames 20 --perturb 0.5   # 3 min
./gen_only.sh 1 cw3_cut-in cut-in 0 --guidance 8
./gen_only.sh 1 cw3_normal normal 0 --guidance 8
# the guide (core 0, 22 min) and the judge (core 1: documented protocol, 2 epochs, seed 0)
taskset -c 0 sciffusion video train-guide --data driving_train600.zarr --out guide1 --minutes 22 --val-every 300 --no-progress
taskset -c 1 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated gen_cw3_cut-in,gen_cw3_normal --out judge --frames 10 --epochs 2 --seed 0 --no-progress
# a second judge (seed 1, 3 epochs) for the seed-0 stores
taskset -c 1 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated gen_cw3_cut-in,gen_g1_cutin_sc10_s0,gen_base_collision_s0,gen_g1_coll_sc10_s0,gen_cw3_normal \
    --out judge2 --frames 10 --epochs 3 --seed 1 --no-progress
