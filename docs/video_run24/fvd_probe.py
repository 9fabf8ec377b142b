"""Twenty-sixth round (session 41): how much FVD moves with the sampling noise, and what the faint background
costs it. For each model, K samples of frames 10-19 from frames 0-9 of the first N clips of smmnist_test.zarr
(dpmpp_2m_sde, 10 steps, seed 0, batch 16: exactly `bench video`'s draw), then
  - SSIM / PSNR best of K (as `bench video`),
  - FVD (context + prediction, the bench's input) of sample index k = 0 … F-1 separately (--fvd-samples F):
    F draws of the FVD the bench reports (the bench's own is k = 0),
  - the FVD of k = 0 with the predicted pixels under 8 (of 255) set to black: a reading of the haze, not a method.
copy-last is scored once (deterministic). Writes fvd_probe_<tag>.json beside the working folder.
Usage: python fvd_probe.py TAG=MODEL.ckpt [TAG=MODEL.ckpt ...] [--clips N] [--samples K] [--sampler S --steps N]"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import zarr

from sciffusion.domains.video.metrics.fvd import extract_features, fvd_from_features
from sciffusion.domains.video.metrics.i3d import load_i3d
from sciffusion.domains.video.metrics.psnr import psnr_per_frame
from sciffusion.domains.video.metrics.ssim import ssim_per_frame
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import SamplingConfig
from sciffusion.pipelines.video.predict import predict_clips

parser = argparse.ArgumentParser()
parser.add_argument("models", nargs="+")
parser.add_argument("--clips", type=int, default=256)
parser.add_argument("--samples", type=int, default=4)
parser.add_argument("--fvd-samples", type=int, default=2, help="sample indices whose FVD is read (I3D is slow)")
parser.add_argument("--no-copy-last", action="store_true")
parser.add_argument("--no-dehaze", action="store_true", help="skip the FVD with the haze set black")
parser.add_argument("--sampler", default="dpmpp_2m_sde", help="the bench's is dpmpp_2m_sde (session 42 option)")
parser.add_argument("--steps", type=int, default=10, help="the bench's is 10 (session 42 option)")
args = parser.parse_args()
torch.set_num_threads(1)
v = zarr.open_group("smmnist_test.zarr", mode="r")["video"][: args.clips]
ctx, truth = v[:, :10], v[:, 10:20]
i3d = load_i3d()
real = []  # the truth's I3D features, computed on first use (--fvd-samples 0 --no-dehaze --no-copy-last: none)


def fvd(pred: np.ndarray) -> float:
    if not real:  # cached beside the store after the first run (session 42): about 11 minutes on one core
        cache = Path(f"smmnist_test_i3d_{args.clips}.npy")
        if not cache.exists():
            np.save(cache, extract_features(i3d, v, batch_size=16))
        real.append(np.load(cache))
    return float(fvd_from_features(real[0], extract_features(i3d, np.concatenate([ctx, pred], 1), batch_size=16)))


def dehaze(pred: np.ndarray) -> np.ndarray:
    return np.where(pred < 8, 0, pred).astype(np.uint8)


rows = {}
if not args.no_copy_last:
    cl = np.repeat(ctx[:, -1:], 10, axis=1)
    rows["copy-last"] = {"fvd": [fvd(cl)], "ssim": float(ssim_per_frame(cl, truth).mean())}
    print("copy-last", rows["copy-last"], flush=True)
for item in args.models:
    tag, path = item.split("=", 1)
    model = read_model_file(path)
    start = time.time()
    pred = predict_clips(model, ctx, 10, args.samples, SamplingConfig(sampler=args.sampler, steps=args.steps), 0, 16)
    seconds = time.time() - start
    ssim = np.stack([ssim_per_frame(pred[:, k], truth).mean(1) for k in range(args.samples)], 1)  # [N, K]
    psnr = np.stack([psnr_per_frame(pred[:, k], truth).mean(1) for k in range(args.samples)], 1)
    row = {"path": path, "clips": args.clips, "K": args.samples, "sampler": args.sampler, "steps": args.steps, "sample_s": seconds,
           "ssim_best": float(ssim.max(1).mean()), "psnr_best": float(psnr.max(1).mean()),
           "ssim_k1": [float(s) for s in ssim.mean(0)],
           "fvd": [fvd(pred[:, k]) for k in range(min(args.fvd_samples, args.samples))],
           "fvd_dehazed": [] if args.no_dehaze else [fvd(dehaze(pred[:, 0]))],
           "haze_fraction": float(((pred > 0) & (pred < 24)).mean()),
           "truth_haze_fraction": float(((truth > 0) & (truth < 24)).mean())}
    rows[tag] = row
    print(tag, json.dumps(row), flush=True)
    np.save(f"pred_{tag}.npy", pred)
with open("fvd_probe_" + "_".join(rows) + ".json", "w") as fh:
    json.dump(rows, fh, indent=1)
