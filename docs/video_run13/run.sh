# Session 24: every run of docs/video.md "Fourteenth round" (driving) on the 2-core CPU, one job per core.
source .venv/bin/activate; export OMP_NUM_THREADS=1
B=domains/video/data/video_driving.pt
sciffusion video make-driving --out driving_test32.zarr --episodes 32 --seed 1                       # 10 -> 10 bench
sciffusion video make-driving --out driving_train600.zarr --episodes 600 --size 64 --seed 2 --perturb 0.3   # training
sciffusion video make-driving --out driving_test_v2.zarr --episodes 200 --seed 0 --clip-frames 20 --perturb 0.5  # ood test
# core 0: best of 4 for the bundled event model, stochastic sampler, two warm starts
taskset -c 0 sciffusion bench video --data driving_test32.zarr --model cw3-warm1=$B@init-sigma=1.0 \
  --model cw3-warm03=$B@init-sigma=0.3 --sampler dpmpp_2m_sde --samples 4 --steps 10 --fvd-clips 128 \
  --batch-size 16 --seed 0 --no-progress --out bench_driving_cw3_K4sde
# core 1: the prediction model (now domains/video/data/video_driving_predict.pt)
taskset -c 1 sciffusion video train --config docs/video_run12/cw3b0.yaml --data driving_train600.zarr --minutes 55 --init-from $B \
  --out ft_cw0c --no-progress
M=ft_cw0c/model.ckpt
taskset -c 0 sciffusion bench video --data driving_test32.zarr --model cw0c-warm=$M@init-sigma=0.1 --out bench_driving_cw0c \
  --samples 1 --steps 10 --fvd-clips 128 --batch-size 16 --seed 0 --no-progress
taskset -c 1 sciffusion bench ood --out bench_driving_cw0c_feat_nofinetune --datasets driving --score features \
  --minutes 5 --max-steps 1 --seed 0 --model $M --pyod AutoEncoder,PCA \
  --driving-stores driving_train600.zarr,driving_test_v2.zarr        # docs/ood_run18/
