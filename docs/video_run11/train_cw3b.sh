source /work/main/.venv/bin/activate; export OMP_NUM_THREADS=1; cd /work/runs20

taskset -c 0 sciffusion video train --config cpu_driving_moving --data /work/runs18/driving_train600.zarr --minutes 30 \
  --init-from /work/runs19/ft_cw3/model.ckpt --out ft_cw3b --no-progress > train_cw3b.log 2>&1
echo done > train_cw3b.done
