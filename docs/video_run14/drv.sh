source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
sciffusion video predict --input /work/runs24/driving_test32.zarr --out drv_default.mp4 --store drv_default.zarr
sciffusion video evaluate --pred drv_default.zarr --truth /work/runs24/driving_test32.zarr --out drv_default_eval --fvd-clips 128
touch drv.done
