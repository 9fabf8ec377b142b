#!/bin/bash
# usage: eval.sh NAME CORE  -- waits for training run ft_NAME to end, then fidelity, retention, 10->10 bench
NAME=$1; CORE=$2
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
while [ ! -f train_$NAME.done ]; do sleep 20; done
M=ft_$NAME/model.ckpt
R=/work/runs18
taskset -c $CORE python retain.py $M $R/driving_test32.zarr > retain_$NAME.txt 2>&1
G="--clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance 8"
for ev in collision cut-in normal near-miss; do
  taskset -c $CORE sciffusion video generate --model $M --event $ev $G --out gen_${NAME}_g8_$ev > gen_${NAME}_g8_$ev.log 2>&1
done
taskset -c $CORE python carcount.py gen_${NAME}_g8_* > cars_$NAME.txt 2>&1
S=$(ls -d gen_${NAME}_g8_* | grep -v log | paste -sd,)
taskset -c $CORE sciffusion bench video-events --train $R/driving_train600.zarr --test $R/driving_cls_test.zarr --generated $S \
  --classifier $R/events18_bundled/classifier.pt --out events_$NAME --frames 10 --seed 0 --no-progress > events_$NAME.log 2>&1
taskset -c $CORE sciffusion bench video --data $R/driving_test32.zarr --model $NAME-warm=$M@init-sigma=0.1 --out bench_driving_$NAME \
  --samples 1 --steps 10 --fvd-clips 128 --batch-size 16 --seed 0 --no-progress > bench_driving_$NAME.log 2>&1
echo done > eval_$NAME.done
