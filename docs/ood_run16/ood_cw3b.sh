source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
taskset -c 1 sciffusion bench ood --out bench_driving_cw3b_feat_nofinetune --datasets driving --score features --minutes 5 --max-steps 1 \
  --seed 0 --model /work/runs20/ft_cw3b/model.ckpt --pyod AutoEncoder,PCA \
  --driving-stores /work/runs18/driving_train600.zarr,/work/runs20/driving_test_v2.zarr > bench_cw3b_feat.log 2>&1
touch ood_cw3b.done
