#!/bin/bash
# usage: arm.sh CORE NAME EVENT SEED [extra generate opts]; 32 clips of the bundled cw3 model, judged by judge/classifier.pt
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs33
CORE=$1; NAME=$2; EV=$3; SEED=$4; shift 4
M=/work/main/domains/video/data/video_driving.pt
start=$(date +%s)
[ -d gen_$NAME ] || taskset -c $CORE sciffusion video generate --model $M --event $EV --clips 32 --sampler dpmpp_2m --steps 10 \
  --seed $SEED --batch-size 16 --frames 10 "$@" --out gen_$NAME > gen_$NAME.log 2>&1
r=$(taskset -c $CORE python /work/main/docs/video_run18/judge_clips.py judge/classifier.pt gen_$NAME pred_$NAME.npy 2>&1 | tail -1)
echo "$NAME $EV seed=$SEED [$*] -> $r ($(( $(date +%s) - start )) s)" >> results.txt
