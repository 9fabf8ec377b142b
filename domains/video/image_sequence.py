"""Footage as users keep it: a folder of frame images, or a folder of videos or of frame folders.

Anomaly and driving datasets ship frames, not videos: UCSD Ped (``Train/Train001/001.tif`` …), CUHK
Avenue and ShanghaiTech test sets, KITTI raw (``image_02/data/0000000000.png``). This module finds the
footage under a path and reads a folder of frames as one video; decoding a video file stays in
:mod:`~sciffusion.domains.video.ingest`.

* :func:`find_sources`: a video file → itself; a folder holding frame images → that folder, one
  sequence; a folder holding video files and/or folders of frames → each of them, in natural order
  (``2`` before ``10``). Nothing deeper is searched. A folder ``<name>_gt`` beside a source ``<name>``
  holds that source's per-frame ground-truth masks (UCSD Ped's ``Test/Test001_gt``), not footage:
  :func:`ground_truth_folder` finds it.
* :func:`read_image_sequence`: the frames of a folder in natural order, each converted to RGB,
  centre-cropped (or stretched) and resized to ``size × size``, resampled from the folder's frame rate
  (frames carry none: the caller gives it) → the same :class:`~sciffusion.domains.video.ingest.DecodedVideo`
  as a video file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from sciffusion.common.io.images import IMAGE_SUFFIXES, image_files, natural_key, read_image, visible_entries
from sciffusion.domains.video.ingest import (DecodedVideo, FrameRateError, IngestConfig, resample_indices,
                                             square_resize)

DEFAULT_FRAME_RATE = 10.0  # frame folders carry no rate; UCSD Ped, KITTI raw and Avenue frames are ~10-25 fps
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
SourceKind = Literal["video", "frames"]
GROUND_TRUTH_SUFFIX = "_gt"  # UCSD Ped: Test/Test001 (frames) beside Test/Test001_gt (one mask per frame)


@dataclass(frozen=True)
class Source:
    """One piece of footage: a video file or a folder of frame images; ``name`` is its path relative to
    what the user gave (the file or folder name for a single source)."""

    path: Path
    kind: SourceKind
    name: str


def find_sources(path: Path | str) -> list[Source]:
    """Footage under ``path`` (module docstring); one-line ``FileNotFoundError``/``ValueError`` naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file or folder")
    if path.is_file():
        return [Source(path, "video", path.name)]
    if image_files(path):
        return [Source(path, "frames", path.name)]
    sources = []
    entries = visible_entries(path)
    stems = {entry.stem if entry.is_file() else entry.name for entry in entries}
    for entry in entries:
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            sources.append(Source(entry, "video", entry.name))
        elif entry.is_dir() and image_files(entry) and not is_ground_truth(entry, stems):
            sources.append(Source(entry, "frames", entry.name))
    if not sources:
        raise ValueError(f"{path}: no video files ({', '.join(VIDEO_SUFFIXES[:4])}, ...), frame images "
                         f"({', '.join(IMAGE_SUFFIXES[:4])}, ...) or folders of frame images in this folder")
    return sources


def decode_source(source: Source, cfg: IngestConfig, frame_rate: float = DEFAULT_FRAME_RATE, *,
                  progress: Callable[[int], None] | None = None) -> DecodedVideo:
    """One source's frames: a frame folder through :func:`read_image_sequence` (at ``frame_rate``), a
    video file through :func:`~sciffusion.domains.video.ingest.decode_video`."""
    from sciffusion.domains.video.ingest import decode_video

    if source.kind == "frames":
        return read_image_sequence(source.path, cfg, frame_rate, progress=progress)
    return decode_video(source.path, cfg, progress=progress)


def is_ground_truth(folder: Path, names: set[str]) -> bool:
    """``<name>_gt`` beside a source ``<name>`` (folder or video stem): masks, not footage."""
    return folder.name.endswith(GROUND_TRUTH_SUFFIX) and folder.name[: -len(GROUND_TRUTH_SUFFIX)] in names


def ground_truth_folder(source: Source) -> Path | None:
    """The folder of per-frame masks beside ``source`` (``<name>_gt``, UCSD Ped's layout), or None."""
    stem = source.path.name if source.kind == "frames" else source.path.stem
    folder = source.path.parent / f"{stem}{GROUND_TRUTH_SUFFIX}"
    return folder if folder.is_dir() and image_files(folder) else None


def read_image_sequence(folder: Path | str, cfg: IngestConfig, frame_rate: float, *,
                        progress: Callable[[int], None] | None = None) -> DecodedVideo:
    """Frames of ``folder`` → uint8 ``[T, size, size, 3]`` (``cfg.fit``) at ``cfg.fps`` (default
    ``frame_rate``, the folder's rate in frames per second). Every frame must have the first frame's
    size; fewer than ``cfg.min_frames`` (or ``cfg.clip_frames``) frames is an error."""
    folder = Path(folder)
    files = image_files(folder)
    if not files:
        raise ValueError(f"{folder}: no frame images ({', '.join(IMAGE_SUFFIXES)})")
    try:
        idx = resample_indices(len(files), frame_rate, cfg.fps)
    except FrameRateError as exc:
        raise ValueError(f"{folder}: {exc}") from None
    out = np.empty((len(idx), cfg.size, cfg.size, 3), np.uint8)
    first_size = None
    for j, i in enumerate(idx):
        frame = read_image(files[i], "RGB")
        if first_size is None:
            first_size = frame.shape[:2]
        elif frame.shape[:2] != first_size:
            raise ValueError(f"{files[i]}: {frame.shape[1]}x{frame.shape[0]} px, the sequence's first frame "
                             f"{files[idx[0]].name} is {first_size[1]}x{first_size[0]}")
        out[j] = square_resize(frame, cfg.size, cfg.fit)
        if progress is not None:
            progress(1)
    need = max(cfg.min_frames, cfg.clip_frames or 0)
    if len(out) < need:
        raise ValueError(f"{folder}: {len(out)} frames at {cfg.fps or frame_rate:g} fps, need at least {need}")
    return DecodedVideo(out, cfg.fps or frame_rate, frame_rate, len(files), tuple(first_size or (0, 0)),
                        "pillow", idx)


__all__ = ["DEFAULT_FRAME_RATE", "GROUND_TRUTH_SUFFIX", "Source", "VIDEO_SUFFIXES", "decode_source", "find_sources", "ground_truth_folder", "is_ground_truth",
           "read_image_sequence"]
