#!/bin/bash
# Issue 12, nineteenth round: more distinct event clips for the event model. Run from /work/runs30 after
#   make-driving --out driving_train600.zarr --episodes 600 --size 64 --seed 2 --perturb 0.3            (core 0)
#   make-driving --out driving_cls_test.zarr --episodes 200 --seed 0 --clip-frames 20 --perturb 0.5      (core 0)
#   make-driving --out driving_train_ev.zarr --episodes 600 --size 64 --seed 3 --perturb 0.6 --split train (core 1)
# part "model" (core 1): merge, fine-tune the bundled event model 40 minutes, generate; part "judge" (core 0):
# the bundled model's clips and the judge (2 epochs, seed 0, the documented protocol).
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs30
D=/work/main/docs/video_run17
G="--clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance 8"
wait_for() { while ! grep -q '^real' "$1" 2>/dev/null; do sleep 20; done; }
gen() { # core name model event
  [ -d gen_$2_$4 ] || taskset -c $1 sciffusion video generate --model $3 --event $4 $G --out gen_$2_$4 > gen_$2_$4.log 2>&1
}
if [ "$1" = model ]; then
  wait_for mk_ev.log; wait_for mk_train600.log
  [ -d driving_train_merged.zarr ] || taskset -c 1 python $D/merge_events.py driving_train600.zarr driving_train_ev.zarr \
      driving_train_merged.zarr > merge.log 2>&1
  [ -f ft_ev/model.ckpt ] || (time taskset -c 1 sciffusion video train --config cpu_driving_moving \
      --data driving_train_merged.zarr --minutes 40 --init-from /work/main/domains/video/data/video_driving.pt \
      --out ft_ev --no-progress) > ft_ev.log 2>&1
  for ev in collision cut-in near-miss normal; do gen 1 ftev ft_ev/model.ckpt $ev; done
  while [ ! -f judge/classifier.pt ]; do sleep 20; done
  taskset -c 1 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated gen_ftev_collision,gen_ftev_cut-in,gen_ftev_near-miss,gen_ftev_normal \
    --classifier judge/classifier.pt --out events_ftev --frames 10 --seed 0 --no-progress > events_ftev.log 2>&1
  echo done > model.done
else
  wait_for mk_cls.log
  B=/work/main/domains/video/data/video_driving.pt
  for ev in collision cut-in near-miss normal; do gen 0 cw3 $B $ev; done
  taskset -c 0 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated gen_cw3_collision,gen_cw3_cut-in,gen_cw3_near-miss,gen_cw3_normal \
    --out judge --frames 10 --epochs 2 --seed 0 --no-progress > judge.log 2>&1
  echo done > judge.done
fi
