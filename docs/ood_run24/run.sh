#!/usr/bin/env bash
# Twenty-fifth round (session 40): one fit per set of the default clip detector (auto: features + predictive +
# pixels + statistics, 10 minutes, bf16 on a CPU with AMX), its members' scores also combined by softmax, mean
# (and max) with --recombine: the same fitted members and test scores, the calibration refitted on the same
# held-out normal scores, no second training. Run where the driving stores are (docs/ood.md, "Still missing").
set -euo pipefail
sciffusion video make-driving --out driving_test_v2.zarr --episodes 200 --seed 0 --clip-frames 20 --perturb 0.5
sciffusion video make-driving --out driving_train600.zarr --episodes 600 --size 64 --seed 2 --perturb 0.3
OMP_NUM_THREADS=1 taskset -c 1 sciffusion bench ood --out bench_driving_recomb_s0 --datasets driving --minutes 10 \
    --max-steps 100000 --seed 0 --pyod AutoEncoder --driving-stores driving_train600.zarr,driving_test_v2.zarr \
    --recombine softmax,mean --density max
OMP_NUM_THREADS=1 taskset -c 1 sciffusion bench ood --out bench_smm_recomb_s0 --datasets smmnist,smmnist-digits \
    --minutes 10 --max-steps 100000 --seed 0 --pyod AutoEncoder --baselines none --recombine softmax,mean --density max
OMP_NUM_THREADS=1 taskset -c 1 sciffusion bench ood --out bench_driving_recomb_s1 --datasets driving --minutes 10 \
    --max-steps 100000 --seed 1 --pyod AutoEncoder --baselines none \
    --driving-stores driving_train600.zarr,driving_test_v2.zarr --recombine softmax,max,mean
