"""Twenty-eighth round (session 43): more samples per clip for a best-of-K reading, split over cores by clip range.
  python more_samples.py sample MODEL.ckpt START STOP SEED OUT.npy [--samples 4]   (dpmpp_2m, 10 steps, batch 16)
  python more_samples.py combine pred_A.npy pred_B0.npy pred_B1.npy ...            (A: all 256 clips; B: clip ranges in order)
`combine` stacks the B files along clips, appends them to A's samples and prints SSIM / PSNR best of K for K = A's
count and for all, over the first 256 clips of smmnist_test.zarr (frames 10-19 from 0-9, as fvd_probe.py)."""
import argparse

import numpy as np
import torch
import zarr

from sciffusion.domains.video.metrics.psnr import psnr_per_frame
from sciffusion.domains.video.metrics.ssim import ssim_per_frame
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import SamplingConfig
from sciffusion.pipelines.video.predict import predict_clips

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["sample", "combine"])
parser.add_argument("args", nargs="+")
parser.add_argument("--samples", type=int, default=4)
a = parser.parse_args()
torch.set_num_threads(1)
v = zarr.open_group("smmnist_test.zarr", mode="r")["video"][:256]
if a.mode == "sample":
    path, start, stop, seed, out = a.args
    ctx = v[int(start):int(stop), :10]
    pred = predict_clips(read_model_file(path), ctx, 10, a.samples, SamplingConfig(sampler="dpmpp_2m", steps=10), int(seed), 16)
    np.save(out, pred)
else:
    first = np.load(a.args[0])
    more = np.concatenate([np.load(p) for p in a.args[1:]], 0)
    pred = np.concatenate([first, more], 1)  # [N, K, 10, H, W, C]
    truth = v[:, 10:20]
    ssim = np.stack([ssim_per_frame(pred[:, k], truth).mean(1) for k in range(pred.shape[1])], 1)
    psnr = np.stack([psnr_per_frame(pred[:, k], truth).mean(1) for k in range(pred.shape[1])], 1)
    for k in (first.shape[1], pred.shape[1]):
        print(f"best of {k}: SSIM {ssim[:, :k].max(1).mean():.4f} PSNR {psnr[:, :k].max(1).mean():.2f} dB "
              f"(one sample: SSIM {ssim[:, :k].mean():.4f})")
