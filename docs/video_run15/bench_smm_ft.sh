#!/usr/bin/env bash
# Sixteenth round: the SM-MNIST concat model fine-tuned 60 more minutes (smm_concat_ft) against the
# bundled one, on the protocol of the eighth round (all 256 test clips, best of 4, dpmpp_2m_sde, 10 steps,
# FVD over 256, seed 0); copy-last and linear re-run in each run. Run from a folder holding
# smmnist_test.zarr and smm_concat_ft/ (see train_smm_ft.sh). BUNDLED=path of the bundled file.
set -euo pipefail
BUNDLED=${BUNDLED:-$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_smmnist_concat.pt')")}
which=${1:-ft}
if [ "$which" = ft ]; then
  sciffusion bench video --data smmnist_test.zarr --model concat-ft=smm_concat_ft/model.ckpt --sampler dpmpp_2m_sde \
    --out bench_smm_ft_K4 --samples 4 --steps 10 --fvd-clips 256 --batch-size 16 --seed 0
  # what 'video predict' gives without options (K = 1, cold, dpmpp_2m, 10 steps), first 64 clips
  sciffusion bench video --data smmnist_test.zarr --clips 64 --model concat-ft=smm_concat_ft/model.ckpt \
    --model bundled=$BUNDLED --sampler dpmpp_2m --out bench_smm_ft_K1 --samples 1 --steps 10 --fvd-clips 64 \
    --batch-size 16 --seed 0
else
  sciffusion bench video --data smmnist_test.zarr --model bundled=$BUNDLED --sampler dpmpp_2m_sde \
    --out bench_smm_bundled_K4 --samples 4 --steps 10 --fvd-clips 256 --batch-size 16 --seed 0
fi
