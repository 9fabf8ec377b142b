source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
F=/work/main/domains/video/data/video_smmnist_concat.pt
sciffusion video make-smmnist --out smmnist_test.zarr --clips 256 --frames 20 --size 64 --seed 1 --split test
sciffusion bench video --data smmnist_test.zarr --clips 64 --fvd-clips 64 --steps 10 --sampler dpmpp_2m \
  --model cold=$F --model w03=$F@init-sigma=0.3 --model w1=$F@init-sigma=1.0 --model w3=$F@init-sigma=3.0 \
  --out bench_smm_concat_defaults --batch-size 16 --seed 0
touch smm.done
