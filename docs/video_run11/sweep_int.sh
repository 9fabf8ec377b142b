source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
while [ ! -f ood_cw3.done ]; do sleep 15; done
M=/work/runs19/ft_cw3/model.ckpt; R=/work/runs18
for spec in "8 0.3,3" "12 0.3,3"; do set -- $spec; g=$1; iv=$2; tag=g${g}_i${iv/,/-}
for ev in normal cut-in collision near-miss; do
  taskset -c 1 sciffusion video generate --model $M --event $ev --clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance $g --guidance-interval $iv --out gen_cw3_${tag}_$ev > gen_cw3_${tag}_$ev.log 2>&1
done
S=$(ls -d gen_cw3_${tag}_* | grep -v log | paste -sd,)
taskset -c 1 sciffusion bench video-events --train $R/driving_train600.zarr --test $R/driving_cls_test.zarr --generated $S \
  --classifier $R/events18_bundled/classifier.pt --out events_cw3_$tag --frames 10 --seed 0 --no-progress > events_cw3_$tag.log 2>&1
done
echo done > sweep_int.done
