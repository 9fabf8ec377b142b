source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
M=/work/main/domains/video/data/video_driving.pt; R=/work/runs18
for ev in normal cut-in collision near-miss; do
  taskset -c 0 sciffusion video generate --model $M --event $ev --clips 32 --sampler dpmpp_2m --steps 20 --seed 0 --batch-size 16 --frames 10 --guidance 8 --out gen_cw3_g8_s20_$ev > gen_cw3_g8_s20_$ev.log 2>&1
done
S=$(ls -d gen_cw3_g8_s20_* | grep -v log | paste -sd,)
taskset -c 0 sciffusion bench video-events --train $R/driving_train600.zarr --test $R/driving_cls_test.zarr --generated $S \
  --classifier $R/events18_bundled/classifier.pt --out events_cw3_g8_s20 --frames 10 --seed 0 --no-progress > events_cw3_g8_s20.log 2>&1
touch sweep_steps20.done
