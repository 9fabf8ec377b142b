source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
taskset -c 1 sciffusion bench ood --out bench_driving_cw3_auto10 --datasets driving --minutes 10 --max-steps 100000 --seed 0 \
  --model /work/main/domains/video/data/video_driving.pt --driving-stores /work/runs18/driving_train600.zarr,/work/runs20/driving_test_v2.zarr > bench_cw3_auto.log 2>&1
touch ood_auto_cw3.done
