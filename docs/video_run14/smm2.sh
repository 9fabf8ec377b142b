source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
while [ ! -e smm.done ]; do sleep 10; done
F=/work/main/domains/video/data/video_smmnist_concat.pt
sciffusion bench video --data smmnist_test.zarr --clips 64 --fvd-clips 64 --steps 20 --sampler dpmpp_2m \
  --model cold20=$F --out bench_smm_concat_cold20 --batch-size 16 --seed 0
touch smm2.done
