#!/usr/bin/env bash
# Twenty-fourth round: each candidate and the bundled file on the protocol of the eighth round (all 256 test
# clips, best of 4, dpmpp_2m_sde, 10 steps, FVD over 256, seed 0); copy-last and linear re-run in each run.
# Run from the folder of train_smm_anneal.sh. bash bench_smm_anneal.sh anneal|cw3|bundled
set -euo pipefail
BUNDLED=$(python -c "import pathlib, sciffusion.domains.video as v; print(pathlib.Path(v.__file__).parent / 'data/video_smmnist_concat.pt')")
case ${1:?anneal, cw3 or bundled} in
  anneal) model=anneal=smm_anneal/model.ckpt ;;
  cw3) model=cw3=smm_cw3/model.ckpt ;;
  bundled) model=bundled=$BUNDLED ;;
esac
sciffusion bench video --data smmnist_test.zarr --model "$model" --sampler dpmpp_2m_sde --out "bench_smm_$1_K4" \
    --samples 4 --steps 10 --fvd-clips 256 --batch-size 16 --seed 0
