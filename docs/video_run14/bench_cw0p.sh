source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
cd /work/runs25
while [ ! -e train_cw0p.done ]; do sleep 15; done
F=/work/main/domains/video/data/video_driving_predict.pt
sciffusion bench video --data /work/runs24/driving_test32.zarr --fvd-clips 128 --steps 10 --sampler dpmpp_2m \
  --model cw0p-warm=ft_cw0p/model.ckpt@init-sigma=0.1 --model cw0p-warm005=ft_cw0p/model.ckpt@init-sigma=0.05 \
  --model bundled-warm=$F@init-sigma=0.1 \
  --out bench_driving_cw0p --batch-size 16 --seed 0
touch bench_cw0p.done
