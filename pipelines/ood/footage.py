"""Footage as ``ood`` inputs: video files and frame folders cut into fixed-length clips.

Anomaly sets for video ship footage, not arrays: UCSD Ped (``Train/Train001/001.tif`` …, test masks in
``Test/Test001_gt/``), CUHK Avenue (``training_videos/01.avi``), ShanghaiTech. Given a
:class:`FootageClips` (clip length, square size, channels), :func:`read_footage` finds the footage under
a path (:func:`~sciffusion.domains.video.image_sequence.find_sources`: a video file, a folder of frames,
or a folder of videos and/or frame folders), decodes each source at its own rate (no resampling),
brings every frame to ``size × size`` (centre crop or stretch) and cuts windows of ``clip_frames``
frames every ``stride`` frames, plus one window that ends on the source's last frame, so that every
frame is in some clip.

Ids are ``<source>/<first frame>`` (``Test001/0``, ``Test001/16``, …; frame numbers count from 0 in
the source). A source shorter than one clip is left out and named in ``OODData.skipped`` (the commands
print and record it). Labels exist when every source has a ground truth in one of the public sets'
layouts (:mod:`~sciffusion.pipelines.ood.footage_truth`: UCSD ``<name>_gt`` mask folders and
``UCSDpedN.m``, ShanghaiTech ``test_frame_mask``/``test_pixel_mask``, Avenue ``testing_label_mask``): a
clip is anomalous when any of its frames is; per-pixel masks when every source has them.
``frame_keys`` give every frame of every clip one number per source frame, so that frame metrics count
a frame once however many clips hold it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from sciffusion.domains.video.ingest import FITS, Fit

FRAME_KEY_BASE = 1 << 32  # frame key = source index · base + frame number in the source


@dataclass(frozen=True)
class FootageClips:
    """How footage becomes clips: ``clip_frames`` T per clip, ``size`` H = W in px, ``channels`` 1 (grey,
    ITU-R 601 luma) or 3, ``stride`` frames between clip starts (None: ``clip_frames``, no overlap),
    ``fit`` ``crop`` (centre square) or ``stretch`` (whole frame)."""

    clip_frames: int
    size: int = 64
    channels: int = 3
    stride: Optional[int] = None
    fit: Fit = "crop"

    def __post_init__(self) -> None:
        if self.clip_frames < 1:
            raise ValueError(f"--clip-frames: must be >= 1, got {self.clip_frames}")
        if self.size < 8:
            raise ValueError(f"--image-size: footage frames must be >= 8 px, got {self.size}")
        if self.channels not in (1, 3):
            raise ValueError(f"--channels: need 1 (grey) or 3 (RGB), got {self.channels}")
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"--clip-stride: must be >= 1, got {self.stride}")
        if self.fit not in FITS:
            raise ValueError(f"--fit: need one of {', '.join(FITS)}, got {self.fit!r}")

    @property
    def step(self) -> int:
        return self.stride or self.clip_frames

    def to_dict(self) -> dict[str, Any]:
        return {"clip_frames": self.clip_frames, "size": self.size, "channels": self.channels,
                "stride": self.stride, "fit": self.fit}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FootageClips":
        return cls(**{k: values[k] for k in ("clip_frames", "size", "channels", "stride", "fit") if k in values})


def window_starts(frames: int, clip_frames: int, stride: int) -> list[int]:
    """First frames of the windows over a source of ``frames`` frames: every ``stride`` frames, and one
    ending on the last frame when the regular ones stop short of it; [] when the source is too short."""
    if frames < clip_frames:
        return []
    starts = list(range(0, frames - clip_frames + 1, stride))
    if starts[-1] + clip_frames < frames:
        starts.append(frames - clip_frames)
    return starts


def is_footage_file(path: Path) -> bool:
    """True for a file whose suffix is a video container's (``.mp4``, ``.avi``, ``.gif``, …)."""
    from sciffusion.domains.video.image_sequence import VIDEO_SUFFIXES

    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def grey_footage(path: Path | str) -> bool:
    """True when every source under ``path`` is a folder of single-channel frames (UCSD Ped's grey
    ``.tif``), judged by each folder's first frame; video files count as colour."""
    from sciffusion.common.io.images import image_files, is_grey
    from sciffusion.domains.video.image_sequence import find_sources

    return all(s.kind == "frames" and is_grey(image_files(s.path)[0]) for s in find_sources(path))


def _decode(source, clips: FootageClips, progress) -> np.ndarray:
    """uint8 [T_source, S, S, C] at the source's own rate."""
    from sciffusion.domains.video.image_sequence import decode_source
    from sciffusion.domains.video.ingest import IngestConfig, to_grey

    cfg = IngestConfig(size=clips.size, fps=None, clip_frames=None, min_frames=1, fit=clips.fit)
    frames = decode_source(source, cfg, progress=progress).frames
    return to_grey(frames) if clips.channels == 1 else frames


def read_footage(path: Path | str, clips: FootageClips, progress: Optional[Callable[[int], None]] = None,
                 truth: Sequence[Path] = ()):
    """Footage under ``path`` → :class:`~sciffusion.pipelines.ood.inputs.OODData` of clips ``[N, T, S, S, C]``
    (module docstring). Labels and masks from :func:`~sciffusion.pipelines.ood.footage_truth.find_truth`
    (``truth``: folders searched first). A source shorter than one clip is skipped and named in
    ``OODData.skipped``; when every source is, a one-line ``ValueError``. One-line ``FileNotFoundError``/
    ``ValueError`` naming the file or folder for a source that cannot be read or a ground truth that does not
    match its frames. ``progress(n)``: n frames decoded."""
    from sciffusion.domains.video.image_sequence import find_sources
    from sciffusion.pipelines.ood.footage_truth import find_truth
    from sciffusion.pipelines.ood.inputs import OODData

    path = Path(path)
    sources = find_sources(path)
    pixels, ids, keys, truths, skipped, lengths = [], [], [], [], [], []
    for index, source in enumerate(sources):
        frames = _decode(source, clips, progress)
        starts = window_starts(len(frames), clips.clip_frames, clips.step)
        lengths.append(len(frames))
        if not starts:
            skipped.append(source.name)
            continue
        windows = np.array(starts)[:, None] + np.arange(clips.clip_frames)
        pixels.append(frames[windows])
        ids += [f"{source.name}/{start}" for start in starts]
        keys.append(index * FRAME_KEY_BASE + windows)
        truths.append((find_truth(source, len(frames), clips.size, clips.fit, truth), windows))
    if not pixels:
        what = f"{sources[0].path}: {lengths[0]} frames" if len(sources) == 1 else \
            f"{path}: every one of its {len(sources)} sources is too short (the longest has {max(lengths)} frames)"
        raise ValueError(f"{what}, too few for one clip of {clips.clip_frames} frames (lower --clip-frames)")
    labelled = all(t is not None for t, _ in truths)
    with_masks = labelled and all(t.masks is not None for t, _ in truths)
    frame_array = np.concatenate([t.frames[w] for t, w in truths]) if labelled else None
    return OODData(path, "clips", np.concatenate(pixels), ids,
                   None if frame_array is None else frame_array.max(1), frame_array,
                   np.concatenate([t.masks[w] for t, w in truths]) if with_masks else None, np.concatenate(keys),
                   tuple(skipped))


def per_source_frame(keys: np.ndarray, scores: np.ndarray,
                     labels: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Frame scores ``[N, T]`` of clips that may overlap, with their ``frame_keys`` ``[N, T]`` → per
    distinct source frame, in key order: (keys [F], the largest score of the clips holding the frame
    [F], its label [F] from ``labels`` [N, T], which every clip agrees on; None without labels)."""
    order = np.argsort(keys.reshape(-1), kind="stable")
    flat_keys = keys.reshape(-1)[order]
    starts = np.flatnonzero(np.r_[True, flat_keys[1:] != flat_keys[:-1]])
    best = np.maximum.reduceat(scores.reshape(-1)[order].astype(np.float64), starts)
    return flat_keys[starts], best, None if labels is None else labels.reshape(-1)[order][starts]


def source_names(data) -> dict[int, str]:
    """Source index (``key // FRAME_KEY_BASE``) → source name, from the clip ids ``<source>/<first frame>``."""
    names: dict[int, str] = {}
    for clip_id, key in zip(data.ids, data.frame_keys[:, 0]):
        names.setdefault(int(key) // FRAME_KEY_BASE, clip_id.rsplit("/", 1)[0])
    return names


__all__ = ["FRAME_KEY_BASE", "FootageClips", "grey_footage", "is_footage_file", "per_source_frame", "read_footage",
           "source_names", "window_starts"]
