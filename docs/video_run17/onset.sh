#!/bin/bash
# --event-frame F: only the block holding generated frame F carries the event, the others "normal" (the onset
# after normal driving, as the simulator labels it). Bundled event model (cw3), the judge of events.sh.
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs30
G="--clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance 8"
M=${M:-/work/main/domains/video/data/video_driving.pt}; NAME=${NAME:-cw3}; CORE=${CORE:-1}
for F in ${FRAMES:-4 0}; do
  for ev in collision cut-in near-miss; do
    [ -d gen_${NAME}_f${F}_$ev ] || taskset -c $CORE sciffusion video generate --model $M --event $ev --event-frame $F $G \
        --out gen_${NAME}_f${F}_$ev > gen_${NAME}_f${F}_$ev.log 2>&1
  done
  taskset -c $CORE sciffusion bench video-events --train driving_train600.zarr --test driving_cls_test.zarr \
    --generated gen_${NAME}_f${F}_collision,gen_${NAME}_f${F}_cut-in,gen_${NAME}_f${F}_near-miss \
    --classifier judge/classifier.pt --out events_${NAME}_f$F --frames 10 --seed 0 --no-progress > events_${NAME}_f$F.log 2>&1
done
