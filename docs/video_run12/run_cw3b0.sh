source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs21
C=1; R=/work/runs18; N=cw3b0
taskset -c $C sciffusion video train --config cw3b0.yaml --data $R/driving_train600.zarr --minutes 40 \
  --init-from /work/runs20/ft_cw3b/model.ckpt --out ft_$N --no-progress > train_$N.log 2>&1
M=ft_$N/model.ckpt
for g in 8 12; do
  for ev in collision cut-in normal near-miss; do
    taskset -c $C sciffusion video generate --model $M --event $ev --clips 32 --sampler dpmpp_2m --steps 10 --seed 0 --batch-size 16 --frames 10 --guidance $g --out gen_${N}_g${g}_$ev > gen_${N}_g${g}_$ev.log 2>&1
  done
  S=$(ls -d gen_${N}_g${g}_* | grep -v log | paste -sd,)
  taskset -c $C sciffusion bench video-events --train $R/driving_train600.zarr --test $R/driving_cls_test.zarr --generated $S \
    --classifier $R/events18_bundled/classifier.pt --out events_${N}_g$g --frames 10 --seed 0 --no-progress > events_${N}_g$g.log 2>&1
  # (as run, the glob below also caught the .log files and the count failed; cars_cw3b0.txt was made afterwards
  # with the folders only, as here)
  [ $g = 8 ] && taskset -c $C python carcount.py $(ls -d gen_${N}_g8_* | grep -v log) > cars_$N.txt 2>&1
done
touch fid_$N.done
taskset -c $C sciffusion bench ood --out bench_driving_${N}_feat_nofinetune --datasets driving --score features --minutes 5 --max-steps 1 \
  --seed 0 --model $M --pyod AutoEncoder,PCA \
  --driving-stores $R/driving_train600.zarr,/work/runs20/driving_test_v2.zarr > bench_${N}_feat.log 2>&1
touch ood_$N.done
taskset -c $C sciffusion bench video --data $R/driving_test32.zarr --model $N-warm=$M@init-sigma=0.1 --out bench_driving_$N \
  --samples 1 --steps 10 --fvd-clips 128 --batch-size 16 --seed 0 --no-progress > bench_driving_$N.log 2>&1
touch all_$N.done
