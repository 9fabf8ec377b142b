#!/bin/bash
# More cut-in clips (seeds 1 and 2, 32 each) for the bundled model with and without --event-frame 4, judged by
# the judge of events.sh: 96 clips per arm with seed 0's.
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs30
M=/work/main/domains/video/data/video_driving.pt
G="--clips 32 --sampler dpmpp_2m --steps 10 --batch-size 16 --frames 10 --guidance 8 --event cut-in --model $M"
for s in 1 2; do
  [ -d gen_cw3_s${s}_cut-in ] || taskset -c 1 sciffusion video generate $G --seed $s --out gen_cw3_s${s}_cut-in > /dev/null 2>&1
  [ -d gen_cw3_f4_s${s}_cut-in ] || taskset -c 1 sciffusion video generate $G --seed $s --event-frame 4 --out gen_cw3_f4_s${s}_cut-in > /dev/null 2>&1
done
taskset -c 1 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
  --generated gen_cw3_s1_cut-in,gen_cw3_s2_cut-in,gen_cw3_f4_s1_cut-in,gen_cw3_f4_s2_cut-in \
  --classifier judge/classifier.pt --out events_cutin_seeds --frames 10 --seed 0 --no-progress > events_cutin_seeds.log 2>&1
