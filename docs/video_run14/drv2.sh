source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
while [ ! -e drv.done ]; do sleep 10; done
sciffusion video predict --input /work/runs24/driving_test32.zarr --out drv_cold.mp4 --store drv_cold.zarr --init-sigma 0 --steps 20 --sampler dpmpp_2m
sciffusion video evaluate --pred drv_cold.zarr --truth /work/runs24/driving_test32.zarr --out drv_cold_eval --fvd-clips 128
touch drv2.done
