source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
g=$1; C=$2; M=ft_cw3b/model.ckpt; R=/work/runs18
for ev in normal cut-in collision near-miss; do
  taskset -c $C sciffusion video generate --model $M --event $ev --clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance $g --out gen_cw3b_g${g}_$ev > gen_cw3b_g${g}_$ev.log 2>&1
done
S=$(ls -d gen_cw3b_g${g}_* | grep -v log | paste -sd,)
taskset -c $C sciffusion bench video-events --train $R/driving_train600.zarr --test $R/driving_cls_test.zarr --generated $S \
  --classifier $R/events18_bundled/classifier.pt --out events_cw3b_g$g --frames 10 --seed 0 --no-progress > events_cw3b_g$g.log 2>&1
touch sweep_cw3b_g$g.done
