#!/bin/bash
# negative-prompt guidance on the bundled event model (cw3): same seeds, same judge protocol as docs/video.md rounds 10-13
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs29
while [ ! -f mk.done ]; do sleep 20; done
G="--clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10"
gen() { # name event guidance extra...
  local name=$1 ev=$2 g=$3; shift 3
  [ -d gen_$name ] || taskset -c 0 sciffusion video generate --event $ev --guidance $g $G "$@" --out gen_$name > gen_$name.log 2>&1
}
gen null_g8_collision collision 8
gen null_g8_cut-in cut-in 8
gen null_g8_near-miss near-miss 8
gen null_g8_normal normal 8
# judge: trained once (2 epochs, seed 0), as events18_bundled
taskset -c 0 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
  --generated gen_null_g8_collision,gen_null_g8_cut-in,gen_null_g8_near-miss,gen_null_g8_normal \
  --out events_null_g8 --frames 10 --epochs 2 --seed 0 --no-progress > events_null_g8.log 2>&1
for g in 8 4 12; do
  for ev in collision cut-in near-miss; do gen neg_g${g}_$ev $ev $g --negative-event normal; done
  S=$(ls -d gen_neg_g${g}_* | grep -v log | paste -sd,)
  taskset -c 0 sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr --generated $S \
    --classifier events_null_g8/classifier.pt --out events_neg_g$g --frames 10 --seed 0 --no-progress > events_neg_g$g.log 2>&1
done
echo done > neg.done
