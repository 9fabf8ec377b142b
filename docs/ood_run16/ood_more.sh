source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20
while [ ! -f sweep_int.done ]; do sleep 15; done
for spec in "cw0 /work/runs19/ft_cw0/model.ckpt" "s18 /work/runs20/video_driving_s18.pt"; do set -- $spec
taskset -c 1 sciffusion bench ood --out bench_driving_$1_feat_nofinetune --datasets driving --score features --minutes 5 --max-steps 1 \
  --seed 0 --model $2 --pyod AutoEncoder,PCA \
  --driving-stores /work/runs18/driving_train600.zarr,/work/runs20/driving_test_v2.zarr > bench_$1_feat.log 2>&1
done
touch ood_more.done
