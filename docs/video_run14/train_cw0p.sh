source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
sciffusion video train --config cw0p.yaml --data /work/runs24/driving_train600.zarr --minutes 60 \
  --init-from /work/main/domains/video/data/video_driving_predict.pt --out ft_cw0p --no-progress
touch train_cw0p.done
