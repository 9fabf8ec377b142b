source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
F=/work/main/domains/video/data/video_driving_predict.pt
sciffusion bench video --data /work/runs24/driving_test32.zarr --fvd-clips 128 --steps 10 --sampler dpmpp_2m \
  --model w003=$F@init-sigma=0.03 --model w005=$F@init-sigma=0.05 --model w02=$F@init-sigma=0.2 \
  --out bench_driving_sigma_sweep --batch-size 16 --seed 0
touch sweep.done
