#!/bin/bash
# The control of events.sh: the same fine-tune (bundled event model, cpu_driving_moving, 40 minutes) on the
# base store alone (driving_train600.zarr), so "more event clips" is compared with "more training" in one run.
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs30
G="--clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance 8"
[ -f ft_base/model.ckpt ] || (time taskset -c 0 sciffusion video train --config cpu_driving_moving \
    --data driving_train600.zarr --minutes 40 --init-from /work/main/domains/video/data/video_driving.pt \
    --out ft_base --no-progress) > ft_base.log 2>&1
for ev in collision cut-in near-miss normal; do
  [ -d gen_ftbase_$ev ] || taskset -c 0 sciffusion video generate --model ft_base/model.ckpt --event $ev $G \
      --out gen_ftbase_$ev > gen_ftbase_$ev.log 2>&1
done
taskset -c 0 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
  --generated gen_ftbase_collision,gen_ftbase_cut-in,gen_ftbase_near-miss,gen_ftbase_normal \
  --classifier judge/classifier.pt --out events_ftbase --frames 10 --seed 0 --no-progress > events_ftbase.log 2>&1
echo done > control.done
