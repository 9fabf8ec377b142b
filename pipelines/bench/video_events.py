"""``sciffusion bench video-events``: rare-event fidelity of generated driving clips, judged by an
independent event classifier trained here, not by the video model.

Protocol (``docs/video.md``, "Rare-event fidelity"):

- Windows of ``frames`` (T) frames of a labelled ``make-driving`` store, starting every ``stride``
  frames (plus the last start), labelled with :func:`~sciffusion.domains.video.events.window_event`
  (``ego_collision`` > ``cut_in`` > ``near_miss`` on any frame of the window, else ``normal``).
- A small 3-D conv net (:class:`EventClassifier`) trained with cross-entropy on windows drawn with
  weights 1 / (windows of their class), because events are rare; seeded.
- Held-out evaluation on windows of a second store (other episodes): accuracy, balanced accuracy,
  per-class recall, confusion matrix.
- Fidelity of a generated store (``clips.zarr`` of ``sciffusion video generate --event E``): the
  fraction of its clips asked for event E (``labels/event``) whose first T frames the classifier
  assigns to E, with the whole predicted-class distribution.

Writes ``classifier.pt``, ``classifier_eval.json``, ``confusion.png``, ``fidelity.csv``,
``fidelity.png`` and ``config.json`` into ``out`` atomically.
"""
from __future__ import annotations

import contextlib
import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
from torch import Tensor, nn

from sciffusion.domains.video.events import EVENTS, window_event
from sciffusion.domains.video.frames import to_unit_range

REQUIRED_LABELS = EVENTS[1:]  # per-frame flags a window label reads (make-driving writes them)
CHECKPOINT_KIND = "sciffusion-event-classifier"
PRED_FIELDS = [f"pred_{name}" for name in EVENTS]
FIELDS = ["store", "event", "clips", "fidelity", *PRED_FIELDS, "classifier_recall", "train_windows",
          "classifier_accuracy", "classifier_balanced_accuracy"]


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


@dataclass(frozen=True)
class VideoEventsConfig:
    """train / test: labelled make-driving stores (different episodes); generated: ``clips.zarr``
    stores (or folders holding one) with ``labels/event``; out: output folder."""

    train: Path
    test: Path
    generated: tuple[Path, ...]
    out: Path
    classifier: EventClassifierConfig = field(default_factory=EventClassifierConfig)
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.generated:
            raise ValueError("--generated: need at least one generated store")
        if len({Path(p).resolve() for p in self.generated}) != len(self.generated):
            raise ValueError(f"--generated: a store is listed twice: {', '.join(map(str, self.generated))}")
        if Path(self.train).resolve() == Path(self.test).resolve():
            raise ValueError(f"--test: {self.test} is the training store; evaluate on other episodes")


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


def generated_store_path(path: Path) -> Path:
    """A generated ``clips.zarr`` or the ``sciffusion video generate`` folder that holds one."""
    path = Path(path)
    return path / "clips.zarr" if (path / "clips.zarr").is_dir() else path


def open_generated(path: Path, frames: int, frame_shape: tuple[int, ...]):
    """Open a generated store and check it against the classifier: ``labels/event`` int [N] in EVENTS,
    frames ``frame_shape`` [H, W, C], at least ``frames`` frames per clip."""
    from sciffusion.domains.video.zarr_store import open_video_store

    path = generated_store_path(path)
    store = open_video_store(path, kind="dataset")
    if "event" not in store.labels:
        raise ValueError(f"{path}: no labels/event (generate the clips with sciffusion video generate --event E)")
    events = np.asarray(store.labels["event"][...])
    if events.ndim != 1 or events.dtype.kind not in "iu" or events.min() < 0 or events.max() >= len(EVENTS):
        raise ValueError(f"{path}: labels/event must be integers [N] in 0..{len(EVENTS) - 1} (index into "
                         f"{', '.join(EVENTS)}), got {events.dtype} {events.shape}")
    if tuple(store.video.shape[2:]) != tuple(frame_shape):
        raise ValueError(f"{path}: frames {tuple(store.video.shape[2:])} [H, W, C] != {tuple(frame_shape)} of the "
                         f"classifier's training store")
    if store.video.shape[1] < frames:
        raise ValueError(f"{path}: {store.video.shape[1]} frames per clip, need at least {frames} (--frames)")
    return store, events.astype(np.int64)


def rare_event_fidelity(classifier: Callable[[Tensor], Tensor], generated: Path, frames: int,
                        frame_shape: tuple[int, ...], batch_size: int = 64) -> list[dict[str, Any]]:
    """One row per event asked for in ``generated`` (``labels/event``): its clips, the fraction of them
    whose first ``frames`` frames the classifier assigns to that event (``fidelity``) and the fraction
    assigned to each class (``pred_<event>``, summing to 1)."""
    store, events = open_generated(generated, frames, frame_shape)
    batches = (to_unit_range(torch.from_numpy(np.asarray(store.video[i:i + batch_size, :frames])))
               for i in range(0, len(events), batch_size))
    pred = predict_events(classifier, batches)
    rows = []
    for k in np.unique(events):
        share = np.bincount(pred[events == k], minlength=len(EVENTS)) / (events == k).sum()
        rows.append({"store": str(store.path), "event": EVENTS[k], "clips": int((events == k).sum()),
                     "fidelity": float(share[k]), **{f: float(s) for f, s in zip(PRED_FIELDS, share)}})
    return rows


def _check_held_out(train: Windows, test: Windows) -> None:
    if train.video.shape[2:] != test.video.shape[2:]:
        raise ValueError(f"{test.path}: frames {test.video.shape[2:]} [H, W, C] != {train.video.shape[2:]} of "
                         f"{train.path}")
    a, b = train.attrs, test.attrs
    if all(k in a and k in b and a[k] == b[k] for k in ("generator", "seed")):
        raise ValueError(f"{test.path}: made with the same seed {b['seed']} as {train.path}, so the same "
                         f"episodes; make the test store with another --seed")


def run_video_events(cfg: VideoEventsConfig, log: Callable[[str], None] = print, progress: bool = False
                     ) -> list[dict[str, Any]]:
    """Train the classifier on ``cfg.train``, evaluate it on ``cfg.test``, score every generated store;
    write the files into ``cfg.out`` atomically (an existing folder only with ``cfg.overwrite``, refused
    before any work). Returns the fidelity rows, each with the classifier's held-out scores."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing

    c = cfg.classifier
    refuse_existing(Path(cfg.out), cfg.overwrite)
    train, test = load_windows(cfg.train, c.frames, c.stride), load_windows(cfg.test, c.frames, c.stride)
    _check_held_out(train, test)
    frame_shape = train.video.shape[2:]
    for path in cfg.generated:  # every input checked before minutes of training
        open_generated(path, c.frames, frame_shape)
    counts = train.counts()
    log(f"train windows per class: {dict(zip(EVENTS, counts))}; test: {dict(zip(EVENTS, test.counts()))}")
    if counts[0] == sum(counts):
        raise ValueError(f"{cfg.train}: no window with an event, only normal driving (make more episodes or use a "
                         f"higher --perturb)")
    for name in (n for n, k in zip(EVENTS, counts) if k == 0):
        log(f"warning: no training window of {name}: the classifier cannot recognise it")
    model = train_classifier(train, c, log, progress)
    report = {**evaluate_classifier(model, test), "train_windows": dict(zip(EVENTS, counts))}
    log(f"held-out accuracy {report['accuracy']:.3f}, balanced {report['balanced_accuracy']:.3f}")
    rows = []
    for path in cfg.generated:
        for row in rare_event_fidelity(model, path, c.frames, frame_shape):
            k = EVENTS.index(row["event"])
            rows.append({**row, "classifier_recall": report["recall"][row["event"]], "train_windows": counts[k],
                         "classifier_accuracy": report["accuracy"],
                         "classifier_balanced_accuracy": report["balanced_accuracy"]})
    config = {"train": str(cfg.train), "test": str(cfg.test), "generated": [str(p) for p in cfg.generated],
              "out": str(cfg.out), "overwrite": cfg.overwrite, "classifier": asdict(c)}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        torch.save({"kind": CHECKPOINT_KIND, "version": 1, "config": asdict(c), "events": list(EVENTS),
                    "frame_shape": list(frame_shape), "state_dict": model.state_dict()}, tmp / "classifier.pt")
        (tmp / "classifier_eval.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        _write_csv(tmp / "fidelity.csv", rows)
        plot_confusion(tmp / "confusion.png", np.array(report["confusion"]))
        plot_fidelity(tmp / "fidelity.png", rows)
    return rows


def load_event_classifier(path: Path) -> tuple[EventClassifier, dict[str, Any]]:
    """``classifier.pt`` (weights-only plain dict) → (classifier in eval mode, the checkpoint dict)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path}: not an event classifier checkpoint (kind {CHECKPOINT_KIND!r})")
    model = EventClassifier(int(ckpt["frame_shape"][-1]), int(ckpt["config"]["width"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: ("" if r[k] is None else r[k]) for k in FIELDS} for r in rows)


def plot_confusion(path: Path, confusion: np.ndarray) -> None:
    """Row-normalised confusion matrix (true class per row), counts in the cells."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(4.8, 4.2), dpi=120)
    ax = fig.add_subplot()
    ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for (i, j), n in np.ndenumerate(confusion):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(EVENTS)), EVENTS, rotation=30, ha="right")
    ax.set_yticks(range(len(EVENTS)), EVENTS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (held-out windows)")
    fig.tight_layout()
    fig.savefig(path)


def _store_name(path: Path) -> str:
    """``gen/clips.zarr`` → ``gen`` (the generate folder says which run), else the store's name."""
    return path.parent.name if path.name == "clips.zarr" and path.parent.name else path.name


def plot_fidelity(path: Path, rows: list[dict[str, Any]]) -> None:
    """Fidelity per (store, event) beside the classifier's held-out recall of that event."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 1.2 * len(rows) + 2), 3.4), dpi=120)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["fidelity"] for r in rows], 0.4, label="fidelity (generated)")
    ax.bar(x + 0.2, [r["classifier_recall"] or 0.0 for r in rows], 0.4, label="classifier recall (held-out real)")
    ax.set_xticks(x, [f"{r['event']}\n{_store_name(Path(r['store']))}" for r in rows], fontsize=7)
    ax.set_ylim(0, 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("fraction of clips")
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(path)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Fidelity per (store, event) beside the classifier's held-out recall of that event, accuracy and
    balanced accuracy (recall n/a: no held-out window of that event)."""
    lines = [f"{'event':<15}{'clips':>6}{'fidelity':>10}{'clf recall':>12}{'clf acc':>9}{'clf bal acc':>13}  store"]
    for r in rows:
        recall = "n/a" if r["classifier_recall"] is None else f"{r['classifier_recall']:.3f}"
        lines.append(f"{r['event']:<15}{r['clips']:>6}{r['fidelity']:>10.3f}{recall:>12}"
                     f"{r['classifier_accuracy']:>9.3f}{r['classifier_balanced_accuracy']:>13.3f}  {r['store']}")
    return "\n".join(lines)


__all__ = ["EventClassifier", "EventClassifierConfig", "VideoEventsConfig", "Windows", "evaluate_classifier",
           "format_table", "load_event_classifier", "load_windows", "rare_event_fidelity", "run_video_events",
           "train_classifier", "window_starts"]
