set -e
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
cd /work/runs20
[ -d driving_test_v2.zarr ] || sciffusion video make-driving --out driving_test_v2.zarr --episodes 200 --seed 0 --clip-frames 20 --perturb 0.5 > mk_test_v2.log 2>&1
sciffusion bench ood --out bench_driving_cw3_feat_nofinetune --datasets driving --score features --minutes 5 --max-steps 1 \
  --seed 0 --model /work/runs19/ft_cw3/model.ckpt --pyod AutoEncoder,PCA \
  --driving-stores /work/runs18/driving_train600.zarr,/work/runs20/driving_test_v2.zarr > bench_cw3_feat.log 2>&1
touch ood_cw3.done
