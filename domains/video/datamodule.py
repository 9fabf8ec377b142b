"""A ``LightningDataModule`` over video zarr stores: windows of [past | current | future] frames.

Each item is one window of L = T_past + T + T_future consecutive frames of one clip, starting at a
random frame in training (a random crop in time; Lightning seeds the workers) and at frame 0 in
validation, scaled from uint8 to [-1, 1]. Batches are ``(x0 [B, C, T, H, W], VideoCondition)`` with
past/future masks drawn per sample (MCVD: each block dropped independently, ``p_mask_past`` /
``p_mask_future``) in training and all visible in validation, and, when ``events`` is on, the window's
event index (:mod:`~sciffusion.domains.video.events`). With ``change_weight`` w > 0, training batches
are ``(x0, VideoCondition, weight [B, 1, T, H, W])``: the loss weight is 1 + w on the pixels that change
against the last past frame (:func:`~sciffusion.domains.video.frames.changing_pixels`; against the
block's first frame when there is no past block), 1 elsewhere. Small moving objects (cars a few pixels
wide) are otherwise a tiny part of a loss spent on a static background.

Split: the store's own metadata decides. A store whose attr ``split`` is ``test`` is refused for
training. With no ``val`` store, whole episodes (``labels/episode``, driving) or else clips are held
out: every clip whose episode (or clip index) is ``≡ 0 (mod val_every)`` goes to validation.

Only torch and zarr (with numpy beneath it) are used on the training side; the store layout is
checked once with :func:`~sciffusion.domains.video.zarr_store.open_video_store` in :meth:`setup`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from sciffusion.domains.video.events import EVENTS, window_event
from sciffusion.domains.video.frames import changing_pixels, to_uint8, to_unit_range  # noqa: F401  (re-exported)
from sciffusion.domains.video.networks.condition import VideoCondition, random_block_masks


@dataclass(frozen=True)
class VideoDataConfig:
    """train / val: zarr dataset stores (val None: held out from train, module docstring).
    past_frames, frames, future_frames: T_past, T, T_future of a window. events: condition on the
    driving event of each window. balance_events: sample training clips with weights 1 / (clips of
    their clip's event), so rare events are seen as often as normal driving, and start an event clip's
    window where the event falls in the generated block (:func:`event_starts`): a random start would
    miss a one-frame collision most of the time and label the window normal. p_mask_past /
    p_mask_future: training masking probabilities. change_weight: extra loss weight on the pixels that
    change (module docstring; 0 = plain loss). val_every: hold-out period. val_clips: cap on
    validation windows (None: all)."""

    train: Path
    val: Optional[Path] = None
    past_frames: int = 2
    frames: int = 5
    future_frames: int = 0
    batch_size: int = 8
    num_workers: int = 0
    events: bool = False
    balance_events: bool = False
    p_mask_past: float = 0.25
    p_mask_future: float = 0.5
    change_weight: float = 0.0
    val_every: int = 10
    val_clips: Optional[int] = 64

    def __post_init__(self) -> None:
        if self.frames < 1 or self.past_frames < 0 or self.future_frames < 0:
            raise ValueError(f"frames: need frames >= 1, past/future >= 0, got ({self.past_frames}, {self.frames}, "
                             f"{self.future_frames})")
        if self.batch_size < 1 or self.num_workers < 0 or self.val_every < 2:
            raise ValueError(f"batch_size >= 1, num_workers >= 0, val_every >= 2 needed, got ({self.batch_size}, "
                             f"{self.num_workers}, {self.val_every})")
        for name in ("p_mask_past", "p_mask_future"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        if self.balance_events and not self.events:
            raise ValueError("balance_events: needs events = true")
        if not 0 <= self.change_weight < float("inf"):  # also refuses NaN
            raise ValueError(f"change_weight: must be a finite number >= 0, got {self.change_weight}")
        if self.val_clips is not None and self.val_clips < 1:
            raise ValueError(f"val_clips: must be >= 1 or null, got {self.val_clips}")

    @property
    def window(self) -> int:
        return self.past_frames + self.frames + self.future_frames


class VideoWindows(Dataset):
    """Windows of one store: item ``i`` is clip ``clips[i]``, returned as (frames float [C, L, H, W] in
    [-1, 1], event index). ``random_start`` draws the window start with torch's RNG, among
    ``starts[i]`` when that list is given and not empty (:func:`event_starts`), else among all."""

    def __init__(self, path: Path, clips: list[int], window: int, random_start: bool, events: bool,
                 starts: Optional[list[list[int]]] = None):
        import zarr

        self.path, self.clips, self.window = Path(path), list(clips), window
        self.random_start, self.events = random_start, events
        if starts is not None and len(starts) != len(self.clips):
            raise ValueError(f"starts: {len(starts)} lists for {len(self.clips)} clips")
        self.starts = starts
        group = zarr.open_group(str(self.path), mode="r")
        self.length = int(group["video"].shape[1])
        self.label_names = [n for n in EVENTS[1:] if "labels" in group and n in group["labels"]]
        self._video = None
        self._labels: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.clips)

    def _open(self) -> None:  # lazily, once per worker process
        import zarr

        from sciffusion.domains.video.zarr_store import clips_view

        group = zarr.open_group(str(self.path), mode="r")
        self._video = clips_view(group["video"])  # checked by open_video_store in setup
        self._labels = {n: group["labels"][n] for n in self.label_names}

    def start_of(self, i: int) -> int:
        last = self.length - self.window
        if not self.random_start or last <= 0:
            return 0
        allowed = self.starts[i] if self.starts is not None else None
        if allowed:
            return allowed[int(torch.randint(len(allowed), ()))]
        return int(torch.randint(last + 1, ()))

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        if self._video is None:
            self._open()
        clip, start = self.clips[i], self.start_of(i)
        frames = torch.from_numpy(self._video[clip, start:start + self.window])
        event = 0
        if self.events:
            event = window_event({n: a[clip] for n, a in self._labels.items()}, start, start + self.window)
        return to_unit_range(frames), event


def _event_labels(path: Path) -> tuple[int, dict[str, Any]]:
    """(frames per clip, event name -> per-frame flags [N, T]) of a store, read whole."""
    import zarr

    group = zarr.open_group(str(path), mode="r")
    names = [n for n in EVENTS[1:] if "labels" in group and n in group["labels"]]
    return int(group["video"].shape[1]), {n: group["labels"][n][...] for n in names}


def clip_events(path: Path, clips: list[int]) -> list[int]:
    """Event index of each whole clip in ``clips``, for balanced sampling."""
    _, arrays = _event_labels(path)
    return [window_event({n: a[c] for n, a in arrays.items()}, 0, None) for c in clips]


def event_starts(path: Path, clips: list[int], past_frames: int, frames: int, window: int) -> list[list[int]]:
    """For each clip, the window starts s whose generated block, frames [s + T_past, s + T_past + T), holds
    the clip's event (its highest-priority event on any frame); if none does (an event on the first
    frames, inside the past block), the starts whose whole window of ``window`` frames holds it. [] for a
    normal clip (any start)."""
    length, arrays = _event_labels(path)
    last = max(length - window, 0)
    out: list[list[int]] = []
    for c in clips:
        labels = {n: a[c] for n, a in arrays.items()}
        event = window_event(labels, 0, None)
        if event == 0:
            out.append([])
            continue
        block = [s for s in range(last + 1)
                 if window_event(labels, s + past_frames, s + past_frames + frames) == event]
        out.append(block or [s for s in range(last + 1) if window_event(labels, s, s + window) == event])
    return out


class WindowCollate:
    """Stacks items into ``(x0, VideoCondition)``; draws the block masks when ``mask`` is on (training),
    and then appends the loss weight when ``cfg.change_weight`` > 0 (module docstring)."""

    def __init__(self, cfg: VideoDataConfig, mask: bool):
        self.cfg, self.mask = cfg, mask

    def __call__(self, items: list[tuple[Tensor, int]]) -> tuple:
        c = self.cfg
        frames = torch.stack([f for f, _ in items])  # [B, C, L, H, W]
        b = len(items)
        past = frames[:, :, :c.past_frames] if c.past_frames else None
        x0 = frames[:, :, c.past_frames:c.past_frames + c.frames]
        future = frames[:, :, c.past_frames + c.frames:] if c.future_frames else None
        if self.mask:
            past_mask, future_mask = random_block_masks(b, c.p_mask_past, c.p_mask_future)
        else:
            past_mask = future_mask = torch.ones(b)
        event = torch.tensor([e for _, e in items], dtype=torch.long) if c.events else None
        cond = VideoCondition(past=past, future=future, past_mask=past_mask if past is not None else None,
                              future_mask=future_mask if future is not None else None, event=event)
        if not (self.mask and c.change_weight > 0):
            return x0, cond
        reference = past[:, :, -1:] if past is not None else x0[:, :, :1]
        return x0, cond, 1.0 + c.change_weight * changing_pixels(x0, reference).float()


def split_clips(path: Path, attrs: dict, labels: dict, num_clips: int, val_every: int) -> tuple[list[int], list[int]]:
    """(train clips, val clips) held out by episode (``labels/episode``) or else by clip index."""
    if "episode" in labels:
        key = [int(e) for e in labels["episode"][:].reshape(num_clips, -1)[:, 0]]
    else:
        key = list(range(num_clips))
    val = [i for i in range(num_clips) if key[i] % val_every == 0]
    train = [i for i in range(num_clips) if key[i] % val_every != 0]
    if not train or not val:
        raise ValueError(f"{path}: {num_clips} clips give an empty train or val split with val_every={val_every}; "
                         "pass a separate val store")
    return train, val


class VideoDataModule(pl.LightningDataModule):
    """Training and validation windows of :class:`VideoDataConfig` (module docstring)."""

    def __init__(self, config: VideoDataConfig):
        super().__init__()
        self.config = config
        self.train_set: Optional[VideoWindows] = None
        self.val_set: Optional[VideoWindows] = None
        self.train_weights: Optional[list[float]] = None
        self.frame_shape: tuple[int, int, int] = (0, 0, 0)  # (C, H, W)

    def setup(self, stage: Optional[str] = None) -> None:
        from sciffusion.domains.video.zarr_store import open_video_store

        c = self.config
        train = open_video_store(c.train, kind="dataset")
        if train.attrs.get("split") == "test":
            raise ValueError(f"{c.train}: a test-split store (attr split = 'test'); never train on it")
        self._check_length(train)
        if c.events and not _event_labels(Path(c.train))[1]:
            raise ValueError(f"{c.train}: no event labels (labels/{', labels/'.join(EVENTS[1:])}); event "
                             "conditioning needs a store written by make-driving")
        self.frame_shape = (int(train.video.shape[4]), int(train.video.shape[2]), int(train.video.shape[3]))
        if c.val is not None:
            val = open_video_store(c.val, kind="dataset")
            self._check_length(val)
            if tuple(val.video.shape[2:]) != tuple(train.video.shape[2:]):
                raise ValueError(f"{c.val}: frames {tuple(val.video.shape[2:])} != train frames {tuple(train.video.shape[2:])}")
            train_clips, val_path, val_clips = list(range(train.num_clips)), Path(c.val), list(range(val.num_clips))
        else:
            train_clips, val_clips = split_clips(Path(c.train), dict(train.attrs), train.labels, train.num_clips,
                                                 c.val_every)
            val_path = Path(c.train)
        if c.val_clips is not None:
            val_clips = val_clips[:c.val_clips]
        starts = (event_starts(Path(c.train), train_clips, c.past_frames, c.frames, c.window)
                  if c.balance_events else None)
        self.train_set = VideoWindows(Path(c.train), train_clips, c.window, True, c.events, starts)
        self.val_set = VideoWindows(val_path, val_clips, c.window, False, c.events)
        if c.balance_events:
            events = clip_events(Path(c.train), train_clips)
            counts = {e: events.count(e) for e in set(events)}
            self.train_weights = [1.0 / counts[e] for e in events]

    def _check_length(self, store) -> None:
        t = int(store.video.shape[1])
        if t < self.config.window:
            raise ValueError(f"{store.path}: {t} frames per clip, need at least past + frames + future = {self.config.window}")

    def train_dataloader(self) -> DataLoader:
        c = self.config
        sampler = None
        if self.train_weights is not None:
            sampler = WeightedRandomSampler(self.train_weights, num_samples=len(self.train_weights), replacement=True)
        return DataLoader(self.train_set, batch_size=c.batch_size, shuffle=sampler is None, sampler=sampler,
                          num_workers=c.num_workers, collate_fn=WindowCollate(c, mask=True),
                          drop_last=len(self.train_set) > c.batch_size, persistent_workers=c.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        c = self.config
        return DataLoader(self.val_set, batch_size=c.batch_size, shuffle=False, num_workers=c.num_workers,
                          collate_fn=WindowCollate(c, mask=False))

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return tuple(part.to(device) for part in batch)


__all__ = ["VideoDataConfig", "VideoDataModule", "VideoWindows", "WindowCollate", "split_clips", "to_uint8",
           "to_unit_range"]
