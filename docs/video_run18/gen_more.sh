source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs31
M=/work/main/domains/video/data/video_driving.pt
G="--clips 32 --sampler dpmpp_2m --steps 10 --batch-size 16 --frames 10 --guidance 8 --model $M"
for s in 1 2 3; do
  [ -d gen_cw3_s${s}_cut-in ] || (time taskset -c 0 sciffusion video generate $G --event cut-in --seed $s --out gen_cw3_s${s}_cut-in) > gen_s${s}.log 2>&1
done
for s in 1 2 3; do
  taskset -c 0 python probe.py gen_cw3_s${s}_cut-in probe_cutin_s${s}.npz 0 1 > probe_s${s}.log 2>&1
done
