"""``sciffusion bench video-baselines``: copy-last and linear extrapolation on SM-MNIST and driving.

The floor a video model has to beat, on the same data and metrics as ``sciffusion video evaluate``:
``context`` frames in, ``horizon`` frames predicted (:mod:`sciffusion.domains.video.baselines`).

- ``smmnist``: Stochastic Moving MNIST test clips (bundled MNIST test digits), 64×64, seed ``seed``.
- ``driving``: synthetic highway episodes (the ``driving`` extra), 4 clips per episode, 64×64, 10 fps.

PSNR/SSIM use every clip (PSNR capped at 100 dB per frame: copy-last on the frozen frames after an
ego crash is exact; ``psnr_capped_frames`` counts them). FVD uses the first ``fvd_clips`` clips of
each set (context frames + prediction against the true clips; I3D on CPU costs about 1.5-4 s per
20-frame clip at 224×224: 3 × ``fvd_clips`` forward passes per data set).

Writes ``baselines.csv``, ``per_frame.csv``, ``ssim_per_frame.png``, ``config.json`` and, with
driving, ``driving_class_balance.json`` into ``out`` atomically.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

DATASETS = ("smmnist", "driving")
CLIPS_PER_EPISODE = 4
FIELDS = ["dataset", "method", "clips", "psnr", "psnr_capped_frames", "ssim", "fvd", "fvd_clips"]
FRAME_FIELDS = ["dataset", "method", "frame", "psnr", "ssim"]


@dataclass(frozen=True)
class VideoBaselinesConfig:
    """``out`` folder; SM-MNIST clips and driving episodes (4 clips each); ``context`` → ``horizon``
    frames; FVD on the first ``fvd_clips`` clips of each set unless ``fvd`` is False."""

    out: Path
    overwrite: bool = False
    datasets: tuple[str, ...] = DATASETS
    smmnist_clips: int = 256
    driving_episodes: int = 32
    fvd: bool = True
    fvd_clips: int = 32
    context: int = 10
    horizon: int = 10
    seed: int = 1
    i3d_weights: Optional[Path] = None  # None: $SCIFFUSION_I3D_WEIGHTS or the shared default
    batch_size: int = 2

    def __post_init__(self) -> None:
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown or not self.datasets or len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"--datasets: need distinct names from {', '.join(DATASETS)}, got "
                             f"{', '.join(self.datasets) or 'none'}")
        if self.smmnist_clips < 1:
            raise ValueError(f"--smmnist-clips: must be >= 1, got {self.smmnist_clips}")
        if self.driving_episodes < 1:
            raise ValueError(f"--driving-episodes: must be >= 1, got {self.driving_episodes}")
        if self.fvd and self.fvd_clips < 2:
            raise ValueError(f"--fvd-clips: must be >= 2 (a covariance needs two clips), got {self.fvd_clips}")
        if self.context < 2:
            raise ValueError(f"--context: must be >= 2 (linear extrapolation uses two frames), got {self.context}")
        if self.horizon < 1:
            raise ValueError(f"--horizon: must be >= 1, got {self.horizon}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if self.fvd and self.i3d_weights is not None and not Path(self.i3d_weights).is_file():
            raise FileNotFoundError(f"{self.i3d_weights}: I3D weights not found (--i3d-weights)")

    @property
    def frames(self) -> int:
        return self.context + self.horizon


def smmnist_set(cfg: VideoBaselinesConfig) -> np.ndarray:
    """SM-MNIST test clips, uint8 [smmnist_clips, context + horizon, 64, 64, C]."""
    from sciffusion.common.data import mnist_test_paths
    from sciffusion.common.io.idx import read_idx
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist

    images = read_idx(mnist_test_paths()[0])
    video, _ = generate_smmnist(images, SMMNISTConfig(clips=cfg.smmnist_clips, frames=cfg.frames, size=64,
                                                      seed=cfg.seed, split="test"))
    return video


def driving_set(cfg: VideoBaselinesConfig) -> tuple[np.ndarray, dict]:
    """Driving clips uint8 [4 · driving_episodes, context + horizon, 64, 64, 3] and their class balance."""
    from sciffusion.domains.video.datasets.driving import DrivingConfig, class_balance, generate_driving

    video, labels = generate_driving(DrivingConfig(episodes=cfg.driving_episodes, size=64, seed=cfg.seed,
                                                   clip_frames=cfg.frames, clips_per_episode=CLIPS_PER_EPISODE,
                                                   fps=10))
    return video, class_balance(labels)


def score_baseline(truth: np.ndarray, method: str, cfg: VideoBaselinesConfig,
                   fvd: Optional[Callable[[np.ndarray], float]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One method on clips ``truth`` uint8 [N, context + horizon, H, W, C]: the summary row and one row
    per predicted frame (frame numbers 1-based, counting the context)."""
    from sciffusion.domains.video.baselines import predict
    from sciffusion.pipelines.video.evaluate import score_frames

    c = cfg.context
    pred = predict(truth[:, :c], cfg.horizon, method)
    scores = score_frames(pred[:, None], truth[:, c:], reduce="best")
    n_fvd = min(cfg.fvd_clips, len(truth)) if fvd is not None else 0
    fvd_value = fvd(np.concatenate([truth[:n_fvd, :c], pred[:n_fvd]], axis=1)) if fvd is not None else float("nan")
    row = {"method": method, "clips": len(truth), "psnr": float(scores.psnr.mean()),
           "psnr_capped_frames": int((scores.psnr >= 100.0).sum()), "ssim": float(scores.ssim.mean()),
           "fvd": fvd_value, "fvd_clips": n_fvd}
    frames = [{"method": method, "frame": c + 1 + k, "psnr": float(p), "ssim": float(s)}
              for k, (p, s) in enumerate(zip(scores.psnr.mean(axis=0), scores.ssim.mean(axis=0)))]
    return row, frames


def _fvd_against(truth: np.ndarray, cfg: VideoBaselinesConfig, model) -> Callable[[np.ndarray], float]:
    """FVD of a fake clip set against the first ``fvd_clips`` true clips (their features computed once)."""
    from sciffusion.domains.video.metrics.fvd import extract_features, fvd_from_features

    real = extract_features(model, truth[: cfg.fvd_clips], batch_size=cfg.batch_size)
    return lambda fake: fvd_from_features(real, extract_features(model, fake, batch_size=cfg.batch_size))


def run_video_baselines(cfg: VideoBaselinesConfig, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Score every baseline on every data set, write the files into ``cfg.out`` atomically (an
    existing folder only with ``cfg.overwrite``, refused before any work); return the summary rows."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.domains.video.baselines import METHODS

    refuse_existing(cfg.out, cfg.overwrite)
    if "driving" in cfg.datasets:
        from sciffusion.domains.video.datasets.driving import check_driving_installed

        check_driving_installed()
    model = None
    if cfg.fvd:
        from sciffusion.domains.video.metrics.i3d import load_i3d

        model = load_i3d(cfg.i3d_weights)
    rows, frame_rows, curves, balance = [], [], {}, None
    for name in cfg.datasets:
        t0 = time.time()
        if name == "smmnist":
            video = smmnist_set(cfg)
        else:
            video, balance = driving_set(cfg)
        log(f"{name}: {video.shape} in {time.time() - t0:.0f} s")
        truth = video[:, : cfg.frames]
        fvd = _fvd_against(truth, cfg, model) if model is not None else None
        for method in METHODS:
            row, frames = score_baseline(truth, method, cfg, fvd)
            rows.append({"dataset": name, **row})
            frame_rows += [{"dataset": name, **f} for f in frames]
            curves[f"{name} {method}"] = np.array([f["ssim"] for f in frames])
            log(f"{name:8s} {method:10s} PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}  FVD {row['fvd']:.1f} "
                f"({time.time() - t0:.0f} s)")
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        _write_files(tmp, cfg, rows, frame_rows, curves, balance)
    return rows


def _write_files(folder: Path, cfg: VideoBaselinesConfig, rows: list[dict], frame_rows: list[dict],
                 curves: dict[str, np.ndarray], balance: Optional[dict]) -> None:
    from sciffusion.pipelines.video.evaluate import plot_ssim_per_frame

    _write_csv(folder / "baselines.csv", FIELDS, rows)
    _write_csv(folder / "per_frame.csv", FRAME_FIELDS, frame_rows)
    if balance is not None:
        (folder / "driving_class_balance.json").write_text(json.dumps(balance, indent=2) + "\n")
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    plot_ssim_per_frame(folder / "ssim_per_frame.png", curves, cfg.context)


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(r[k], float) and math.isnan(r[k]) else r[k]) for k in fields})


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of the summary rows (FVD blank when skipped)."""
    lines = [f"{'dataset':<9}{'method':<11}{'clips':>6}{'PSNR dB':>9}{'capped':>8}{'SSIM':>8}{'FVD':>9}"]
    for r in rows:
        fvd = "" if math.isnan(r["fvd"]) else f"{r['fvd']:.1f}"
        lines.append(f"{r['dataset']:<9}{r['method']:<11}{r['clips']:>6}{r['psnr']:>9.2f}{r['psnr_capped_frames']:>8}"
                     f"{r['ssim']:>8.4f}{fvd:>9}")
    return "\n".join(lines)


__all__ = ["VideoBaselinesConfig", "format_table", "run_video_baselines", "score_baseline"]
