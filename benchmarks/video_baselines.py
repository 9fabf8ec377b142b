"""Frame-prediction baselines (copy-last, linear extrapolation) on SM-MNIST 10→10 and synthetic driving.

The floor a video model has to beat. Prints a table and writes ``<out>/baselines.csv``,
``<out>/per_frame.csv`` and ``<out>/ssim_per_frame.png``.

    python benchmarks/video_baselines.py --out runs/video_baselines \
        --smmnist-clips 256 --driving-episodes 32 --fvd-clips 32

PSNR/SSIM use every clip (PSNR capped at 100 dB per frame: copy-last on the frozen frames after an
ego crash is exact; ``psnr_capped_frames`` counts them); FVD uses the first ``--fvd-clips`` clips of each set (I3D on CPU costs
about 1.5-4 s per 20-frame clip at 224×224: 3 × fvd-clips forward passes per dataset).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def smmnist_set(clips: int, seed: int) -> np.ndarray:
    from sciffusion.common.io.idx import read_idx
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist
    from sciffusion.common.data import mnist_test_paths

    images = read_idx(mnist_test_paths()[0])
    video, _ = generate_smmnist(images, SMMNISTConfig(clips=clips, frames=20, size=64, seed=seed, split="test"))
    return video


def driving_set(episodes: int, seed: int) -> tuple[np.ndarray, dict]:
    from sciffusion.domains.video.datasets.driving import DrivingConfig, class_balance, generate_driving

    video, labels = generate_driving(DrivingConfig(episodes=episodes, size=64, seed=seed, clip_frames=20,
                                                   clips_per_episode=4, fps=10))
    return video, class_balance(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/video_baselines"))
    parser.add_argument("--smmnist-clips", type=int, default=256)
    parser.add_argument("--driving-episodes", type=int, default=32, help="4 clips of 20 frames each")
    parser.add_argument("--fvd-clips", type=int, default=32)
    parser.add_argument("--context", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--i3d-weights", type=Path, default=None)
    args = parser.parse_args()

    import pandas as pd
    import torch

    from sciffusion.domains.video.baselines import METHODS, predict
    from sciffusion.domains.video.metrics.fvd import extract_features, fvd_from_features
    from sciffusion.domains.video.metrics.i3d import load_i3d
    from sciffusion.pipelines.video.evaluate import plot_ssim_per_frame, score_frames

    torch.manual_seed(0)
    c, h = args.context, args.horizon
    t0 = time.time()
    sets = {"smmnist": smmnist_set(args.smmnist_clips, args.seed)}
    print(f"smmnist: {sets['smmnist'].shape} in {time.time() - t0:.0f} s", flush=True)
    t0 = time.time()
    sets["driving"], balance = driving_set(args.driving_episodes, args.seed)
    print(f"driving: {sets['driving'].shape} in {time.time() - t0:.0f} s; balance {json.dumps(balance)}", flush=True)
    model = load_i3d(args.i3d_weights)
    rows, frame_rows, curves = [], [], {}
    for name, video in sets.items():
        truth = video[:, : c + h]
        n_fvd = min(args.fvd_clips, len(video))
        t0 = time.time()
        real = extract_features(model, truth[:n_fvd], batch_size=2)
        print(f"{name}: I3D on {n_fvd} real clips in {time.time() - t0:.0f} s", flush=True)
        for method in METHODS:
            pred = predict(truth[:, :c], h, method)
            scores = score_frames(pred[:, None], truth[:, c:], reduce="best")
            fake = np.concatenate([truth[:n_fvd, :c], pred[:n_fvd]], axis=1)
            fvd = fvd_from_features(real, extract_features(model, fake, batch_size=2))
            row = {"dataset": name, "method": method, "clips": len(video), "psnr": scores.psnr.mean(),
                   "psnr_capped_frames": int((scores.psnr >= 100.0).sum()),
                   "ssim": scores.ssim.mean(), "fvd": fvd, "fvd_clips": n_fvd}
            rows.append(row)
            print(f"{name:8s} {method:10s} PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}  FVD {fvd:.1f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
            curve = scores.ssim.mean(axis=0)
            curves[f"{name} {method}"] = curve
            for k, (p, s) in enumerate(zip(scores.psnr.mean(axis=0), curve)):
                frame_rows.append({"dataset": name, "method": method, "frame": c + 1 + k, "psnr": p, "ssim": s})
    args.out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "baselines.csv", index=False)
    pd.DataFrame(frame_rows).to_csv(args.out / "per_frame.csv", index=False)
    (args.out / "driving_class_balance.json").write_text(json.dumps(balance, indent=2) + "\n")
    plot_ssim_per_frame(args.out / "ssim_per_frame.png", curves, c)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"wrote {args.out}/baselines.csv, per_frame.csv, ssim_per_frame.png")


if __name__ == "__main__":
    main()
