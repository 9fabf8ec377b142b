#!/bin/bash
# The control fine-tune (ft_base) on 96 clips per event: seeds 1 and 2 next to control.sh's seed 0, for
# collision (--event-frame auto: onset in block 2), cut-in and normal; core $1 draws seed $2.
source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs30
G="--clips 32 --sampler dpmpp_2m --steps 10 --batch-size 16 --frames 10 --guidance 8 --model ft_base/model.ckpt"
for ev in cut-in collision normal; do
  [ -d gen_ftbase_s$2_$ev ] || taskset -c $1 sciffusion video generate $G --event $ev --seed $2 --out gen_ftbase_s$2_$ev > /dev/null 2>&1
done
echo done > control_s$2.done
