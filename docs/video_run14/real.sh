source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
cd /work/runs25
sciffusion video ingest /work/shared/data/video/udacity_driving/ --out udacity25.zarr --size 64 --clip-frames 20
sciffusion video baseline --data udacity25.zarr --out real_copy.zarr --method copy-last
sciffusion video evaluate --pred real_copy.zarr --truth udacity25.zarr --out real_copy_eval --no-fvd
sciffusion video predict --input udacity25.zarr --out real_def.mp4 --store real_def.zarr
sciffusion video evaluate --pred real_def.zarr --truth udacity25.zarr --out real_def_eval --no-fvd
for s in 0.03 0.01; do
sciffusion video predict --input udacity25.zarr --out real_w$s.mp4 --store real_w$s.zarr --init-sigma $s
sciffusion video evaluate --pred real_w$s.zarr --truth udacity25.zarr --out real_w${s}_eval --no-fvd
done
sciffusion video predict --input udacity25.zarr --out real_cold.mp4 --store real_cold.zarr --init-sigma 0
sciffusion video evaluate --pred real_cold.zarr --truth udacity25.zarr --out real_cold_eval --no-fvd
touch real.done
