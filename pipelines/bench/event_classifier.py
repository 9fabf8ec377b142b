"""The independent event classifier of ``sciffusion bench video-events``: windows of labelled driving
stores, a small 3-D conv net trained on class-balanced draws, and its held-out evaluation.

It lives in the benchmarks, shares no weights, code or training signal with the video model, and
judges generated clips (:mod:`sciffusion.pipelines.bench.video_events`).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
from torch import Tensor, nn

from sciffusion.domains.video.events import EVENTS, window_event
from sciffusion.domains.video.frames import to_unit_range

REQUIRED_LABELS = EVENTS[1:]  # per-frame flags a window label reads (make-driving writes them)
CHECKPOINT_KIND = "sciffusion-event-classifier"


@dataclass(frozen=True)
class EventClassifierConfig:
    """frames: window length T (>= 4); stride: frames between window starts; epochs: passes of
    (windows) balanced draws, capped at ``max_steps`` optimiser steps if given; width: channels of the
    first conv block (then 2×, 4×, 4×)."""

    frames: int = 10
    stride: int = 2
    epochs: int = 5
    max_steps: Optional[int] = None
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0
    width: int = 16

    def __post_init__(self) -> None:
        if self.frames < 4:
            raise ValueError(f"--frames: must be >= 4, got {self.frames}")
        if self.stride < 1:
            raise ValueError(f"stride: must be >= 1, got {self.stride}")
        if self.epochs < 1:
            raise ValueError(f"--epochs: must be >= 1, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps: must be >= 1 or None, got {self.max_steps}")
        if self.batch_size < 1 or self.width < 1 or not self.lr > 0:
            raise ValueError(f"batch_size, width >= 1 and lr > 0 needed, got ({self.batch_size}, {self.width}, "
                             f"{self.lr})")


class EventClassifier(nn.Module):
    """Four Conv3d blocks (kernel 3; stride 2 in H, W; stride 2 in T in the last two), GroupNorm, SiLU,
    global average pool over T, H, W, linear to the event classes.

    Shapes: video [B, C, T, H, W] float in [-1, 1], any T >= 1 → logits [B, len(EVENTS)].
    """

    def __init__(self, in_channels: int = 3, width: int = 16):
        super().__init__()
        chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
        strides = [(1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)]
        blocks = []
        for c_in, c_out, stride in zip(chans[:-1], chans[1:], strides):
            blocks += [nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1), nn.GroupNorm(min(8, c_out), c_out),
                       nn.SiLU()]
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(chans[-1], len(EVENTS))

    def forward(self, video: Tensor) -> Tensor:
        return self.head(self.features(video).mean(dim=(2, 3, 4)))


@dataclass(frozen=True)
class Windows:
    """Labelled windows of one store: ``video`` uint8 [N, L, H, W, C] in memory, ``clip``/``start``/
    ``event`` int64 [M] (event = index into EVENTS), window length ``frames``, the store's ``attrs``."""

    path: Path
    video: np.ndarray
    clip: np.ndarray
    start: np.ndarray
    event: np.ndarray
    frames: int
    attrs: dict = field(default_factory=dict)

    def batch(self, index: np.ndarray) -> Tensor:
        """Windows ``index`` → float [B, C, T, H, W] in [-1, 1]."""
        t = np.arange(self.frames)
        return to_unit_range(torch.from_numpy(self.video[self.clip[index][:, None], self.start[index][:, None] + t]))

    def counts(self) -> list[int]:
        return np.bincount(self.event, minlength=len(EVENTS)).tolist()


def window_starts(length: int, frames: int, stride: int) -> list[int]:
    """Starts of windows of ``frames`` frames in a clip of ``length``: every ``stride``, plus the last."""
    starts = list(range(0, length - frames + 1, stride))
    return starts if starts[-1] == length - frames else starts + [length - frames]


def load_windows(path: Path, frames: int, stride: int) -> Windows:
    """Every window of a labelled driving store (one-line ``ValueError`` naming the store otherwise)."""
    from sciffusion.domains.video.zarr_store import open_video_store

    store = open_video_store(path, kind="dataset")
    missing = [n for n in REQUIRED_LABELS if n not in store.labels]
    if missing:
        raise ValueError(f"{path}: no driving labels {', '.join('labels/' + n for n in missing)} "
                         f"(a store from sciffusion video make-driving has them)")
    n, length = store.video.shape[:2]
    labels = {name: np.asarray(store.labels[name][...]) for name in REQUIRED_LABELS}
    for name, arr in labels.items():
        if arr.shape != (n, length):
            raise ValueError(f"{path}: labels/{name} has shape {arr.shape}, need per-frame flags [N, T] = "
                             f"{(n, length)}")
    if length < frames:
        raise ValueError(f"{path}: {length} frames per clip, need at least {frames} (--frames)")
    rows = [(c, s, window_event({k: v[c] for k, v in labels.items()}, s, s + frames))
            for c in range(n) for s in window_starts(length, frames, stride)]
    clip, start, event = (np.array(col, dtype=np.int64) for col in zip(*rows))
    return Windows(Path(path), np.asarray(store.video[...]), clip, start, event, frames, dict(store.attrs))


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    """A transient rich bar over training steps; yields ``advance()`` (a no-op when disabled)."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("event classifier"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("train", total=total)
        yield lambda: bar.advance(task)


def train_classifier(windows: Windows, cfg: EventClassifierConfig, log: Callable[[str], None] = print,
                     progress: bool = False) -> EventClassifier:
    """Cross-entropy on class-balanced draws (weight 1 / windows of the class); seeded by ``cfg.seed``
    without touching torch's global RNG."""
    generator = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = EventClassifier(windows.video.shape[-1], cfg.width)
    counts = np.bincount(windows.event, minlength=len(EVENTS))
    weights = torch.from_numpy(1.0 / counts[windows.event])
    steps_per_epoch = -(-len(windows.event) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model.train()
    t0, losses = time.time(), []
    with _progress_bar(progress, total) as advance:
        for step in range(total):
            index = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=generator).numpy()
            loss = nn.functional.cross_entropy(model(windows.batch(index)), torch.from_numpy(windows.event[index]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            advance()
            if (step + 1) % steps_per_epoch == 0 or step + 1 == total:
                log(f"event classifier: step {step + 1}/{total}, loss {np.mean(losses):.3f} ({time.time() - t0:.0f} s)")
                losses = []
    return model.eval()


@torch.no_grad()
def predict_events(classifier: Callable[[Tensor], Tensor], batches: Iterator[Tensor]) -> np.ndarray:
    """Predicted event index per clip, int64 [M], over batches of float [B, C, T, H, W]."""
    return np.concatenate([classifier(x).argmax(dim=1).numpy() for x in batches]).astype(np.int64)


def evaluate_classifier(classifier: Callable[[Tensor], Tensor], windows: Windows, batch_size: int = 64
                        ) -> dict[str, Any]:
    """Held-out metrics: accuracy, balanced accuracy (mean recall over classes present), per-class
    recall (None for a class without windows) and confusion [true][pred] counts, classes in EVENTS order."""
    order = np.arange(len(windows.event))
    batches = (windows.batch(order[i:i + batch_size]) for i in range(0, len(order), batch_size))
    pred = predict_events(classifier, batches)
    confusion = np.zeros((len(EVENTS), len(EVENTS)), np.int64)
    np.add.at(confusion, (windows.event, pred), 1)
    support = confusion.sum(axis=1)
    recall = [float(confusion[k, k] / support[k]) if support[k] else None for k in range(len(EVENTS))]
    present = [r for r in recall if r is not None]
    return {"store": str(windows.path), "windows": int(len(pred)), "accuracy": float((pred == windows.event).mean()),
            "balanced_accuracy": float(np.mean(present)), "recall": dict(zip(EVENTS, recall)),
            "support": dict(zip(EVENTS, support.tolist())), "confusion": confusion.tolist(), "classes": list(EVENTS)}


def load_event_classifier(path: Path) -> tuple[EventClassifier, dict[str, Any]]:
    """``classifier.pt`` (weights-only plain dict) → (classifier in eval mode, the checkpoint dict)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path}: not an event classifier checkpoint (kind {CHECKPOINT_KIND!r})")
    model = EventClassifier(int(ckpt["frame_shape"][-1]), int(ckpt["config"]["width"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


__all__ = ["CHECKPOINT_KIND", "EventClassifier", "EventClassifierConfig", "REQUIRED_LABELS", "Windows",
           "evaluate_classifier", "load_event_classifier", "load_windows", "predict_events", "train_classifier",
           "window_starts"]
