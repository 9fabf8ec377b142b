"""Stochastic Moving MNIST (SM-MNIST), the SVG / MCVD protocol.

Denton & Fergus, "Stochastic Video Generation with a Learned Prior", ICML 2018 (reference
code: edenton/svg ``data/moving_mnist.py``); also used by MCVD (Voleti et al., NeurIPS 2022).
Two MNIST digits, resized to ``size // 2`` pixels (32 for 64×64 frames), start at uniform
positions with integer velocities in [-4, 4] px/frame; when a digit hits a wall it is put back
inside and gets a *new random velocity* pointing away from that wall (the stochastic part):
the normal component uniform in {1..4} (away from the wall), the tangential one in [-4, 4].
Digits are summed and clipped to 1 (the SVG ``x[x > 1] = 1``), then stored as uint8.

Train and test clips draw from disjoint sets of MNIST images: a fixed permutation (seed 0,
independent of the generation seed) of the 10,000 MNIST test images gives 8,000 train and
2,000 test digits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = ("train", "test")
NUM_TRAIN_DIGITS = 8000
MAX_SPEED = 4  # px / frame


@dataclass(frozen=True)
class SMMNISTConfig:
    """clips: N; frames: T per clip; size: H = W in px; fps: playback rate stored in the metadata."""

    clips: int = 256
    frames: int = 20
    size: int = 64
    num_digits: int = 2
    seed: int = 0
    split: str = "train"
    fps: float = 10.0

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise ValueError(f"--clips: must be >= 1, got {self.clips}")
        if self.frames < 1:
            raise ValueError(f"--frames: must be >= 1, got {self.frames}")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"--size: must be an even number >= 16, got {self.size}")
        if self.num_digits < 1:
            raise ValueError(f"--num-digits: must be >= 1, got {self.num_digits}")
        if self.split not in SPLITS:
            raise ValueError(f"--split: must be one of {SPLITS}, got {self.split!r}")
        if not self.fps > 0:
            raise ValueError(f"--fps: must be > 0, got {self.fps}")

    @property
    def digit_size(self) -> int:
        return self.size // 2


def split_digit_indices(num_images: int, split: str) -> np.ndarray:
    """MNIST image indices for ``split``: a fixed seed-0 permutation, first 80 % train, rest test."""
    if split not in SPLITS:
        raise ValueError(f"split: must be one of {SPLITS}, got {split!r}")
    order = np.random.default_rng(0).permutation(num_images)
    cut = num_images * NUM_TRAIN_DIGITS // 10000
    return np.sort(order[:cut] if split == "train" else order[cut:])


def resize_digits(images: np.ndarray, digit_size: int) -> np.ndarray:
    """images: uint8 [M, 28, 28] -> float32 [M, digit_size, digit_size] in [0, 1] (bilinear)."""
    out = np.empty((len(images), digit_size, digit_size), np.float32)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((digit_size, digit_size), Image.BILINEAR), np.float32)
    return out / 255.0


def bouncing_trajectory(rng: np.random.Generator, frames: int, size: int, digit_size: int) -> np.ndarray:
    """Top-left corners [T, 2] (row, col) in px of one digit, SVG stochastic bouncing rule."""
    limit = size - digit_size
    sy, sx = int(rng.integers(limit)), int(rng.integers(limit))
    dy, dx = int(rng.integers(-MAX_SPEED, MAX_SPEED + 1)), int(rng.integers(-MAX_SPEED, MAX_SPEED + 1))
    out = np.empty((frames, 2), np.int64)
    for t in range(frames):
        if sy < 0:
            sy, dy, dx = 0, int(rng.integers(1, MAX_SPEED + 1)), int(rng.integers(-MAX_SPEED, MAX_SPEED + 1))
        elif sy >= limit:
            sy, dy, dx = limit - 1, int(rng.integers(-MAX_SPEED, 0)), int(rng.integers(-MAX_SPEED, MAX_SPEED + 1))
        if sx < 0:
            sx, dx, dy = 0, int(rng.integers(1, MAX_SPEED + 1)), int(rng.integers(-MAX_SPEED, MAX_SPEED + 1))
        elif sx >= limit:
            sx, dx, dy = limit - 1, int(rng.integers(-MAX_SPEED, 0)), int(rng.integers(-MAX_SPEED, MAX_SPEED + 1))
        out[t] = sy, sx
        sy, sx = sy + dy, sx + dx
    return out


def render_clip(digits: np.ndarray, trajectories: np.ndarray, size: int) -> np.ndarray:
    """digits: float [D, s, s] in [0, 1]; trajectories: [D, T, 2] px -> uint8 [T, size, size, 1]."""
    num_frames = trajectories.shape[1]
    s = digits.shape[-1]
    canvas = np.zeros((num_frames, size, size), np.float32)
    for digit, traj in zip(digits, trajectories):
        for t, (y, x) in enumerate(traj):
            canvas[t, y:y + s, x:x + s] += digit
    return (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)[..., None]


def generate_smmnist(images: np.ndarray, cfg: SMMNISTConfig, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Generate SM-MNIST clips from MNIST ``images`` (uint8 [M, 28, 28]).

    Returns ``video`` uint8 [N, T, H, W, 1] and ``digit_ids`` int64 [N, num_digits] (indices into
    ``images``). Clip ``i`` uses its own RNG seeded with ``(seed, i)``, so a clip does not depend on
    how many clips are generated. ``progress(n)`` (optional) is called after every clip.
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"MNIST images: need uint8 [M, 28, 28], got {images.dtype} {images.shape}")
    pool = split_digit_indices(len(images), cfg.split)
    digits = resize_digits(images[pool], cfg.digit_size)
    video = np.empty((cfg.clips, cfg.frames, cfg.size, cfg.size, 1), np.uint8)
    ids = np.empty((cfg.clips, cfg.num_digits), np.int64)
    for i in range(cfg.clips):
        rng = np.random.default_rng([cfg.seed, i])
        pick = rng.integers(len(pool), size=cfg.num_digits)
        trajs = np.stack([bouncing_trajectory(rng, cfg.frames, cfg.size, cfg.digit_size)
                          for _ in range(cfg.num_digits)])
        video[i] = render_clip(digits[pick], trajs, cfg.size)
        ids[i] = pool[pick]
        if progress is not None:
            progress(1)
    return video, ids
