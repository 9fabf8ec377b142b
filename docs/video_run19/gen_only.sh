#!/bin/bash
# usage: gen_only.sh CORE NAME EVENT SEED [extra]: generate 32 clips of the bundled model (no judging)
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs33
CORE=$1; NAME=$2; EV=$3; SEED=$4; shift 4
[ -d gen_$NAME ] || taskset -c $CORE sciffusion video generate --model /work/main/domains/video/data/video_driving.pt --event $EV --clips 32 --sampler dpmpp_2m --steps 10 \
  --seed $SEED --batch-size 16 --frames 10 "$@" --out gen_$NAME > gen_$NAME.log 2>&1
