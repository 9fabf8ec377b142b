"""The on-disk layout of every video set in sciffusion: one zarr group per set.

Layout (format version 1, documented in ``docs/video.md``)::

    X.zarr/
      video            uint8 [N, T, H, W, C]      clips, RGB (C=3) or grey (C=1); chunks (1, T, H, W, C)
      labels/<name>    [N, T] or [N, ...]         optional per-frame / per-clip labels, chunked by clip
      .attrs           {"format": "sciffusion-video", "version": 1, "kind": "dataset" | "prediction",
                        "fps": float, ... generator metadata (seed, split, source, ...)}

A prediction store (``kind == "prediction"``) holds ``video`` uint8 [N, K, T_pred, H, W, C]
(K samples per clip, K=1 for deterministic baselines) and attrs ``context``, ``horizon``,
``method`` and ``truth`` (the path of the data store it predicts).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import zarr

FORMAT = "sciffusion-video"
VERSION = 1
KINDS = ("dataset", "prediction")


@dataclass(frozen=True)
class VideoStore:
    """A read-only view of a video zarr group.

    video: zarr array, uint8 [N, T, H, W, C] (dataset) or [N, K, T, H, W, C] (prediction).
    labels: name -> zarr array, first axis N.
    attrs: the group attributes (metadata).
    """

    path: Path
    video: Any
    labels: Mapping[str, Any] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.attrs.get("kind", "dataset"))

    @property
    def num_clips(self) -> int:
        return int(self.video.shape[0])

    @property
    def fps(self) -> float:
        return float(self.attrs.get("fps", 0.0))


def _create_array(group, name: str, data: np.ndarray, chunks: tuple[int, ...]):
    if hasattr(group, "create_array"):  # zarr >= 3
        arr = group.create_array(name, shape=data.shape, chunks=chunks, dtype=data.dtype)
    else:  # zarr 2
        arr = group.create_dataset(name, shape=data.shape, chunks=chunks, dtype=data.dtype)
    arr[...] = data
    return arr


def check_video_array(video: np.ndarray, kind: str = "dataset", name: str = "video") -> None:
    """Raise ``ValueError`` unless ``video`` is uint8 [N, T, H, W, C] (or [N, K, T, H, W, C]) with C in (1, 3)."""
    ndim = 5 if kind == "dataset" else 6
    if video.dtype != np.uint8:
        raise ValueError(f"{name}: need uint8 frames, got {video.dtype}")
    if video.ndim != ndim:
        axes = "[N, T, H, W, C]" if ndim == 5 else "[N, K, T, H, W, C]"
        raise ValueError(f"{name}: need {axes}, got shape {tuple(video.shape)}")
    if video.shape[-1] not in (1, 3):
        raise ValueError(f"{name}: need 1 or 3 channels in the last axis, got {video.shape[-1]}")
    if min(video.shape) < 1:
        raise ValueError(f"{name}: empty array of shape {tuple(video.shape)}")


def write_video_store(path: Path | str, video: np.ndarray, attrs: Mapping[str, Any],
                      labels: Mapping[str, np.ndarray] | None = None, kind: str = "dataset") -> Path:
    """Write ``video`` (uint8 [N, T, H, W, C], or [N, K, T, H, W, C] for predictions) to a new zarr store.

    The caller makes ``path`` atomic (``sciffusion.common.io.atomic.atomic_path``); this function
    only writes. Every array is chunked one clip per chunk.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {KINDS}, got {kind!r}")
    video = np.asarray(video)
    check_video_array(video, kind)
    if "fps" not in attrs or not float(attrs["fps"]) > 0:
        raise ValueError(f"{path}: attrs need fps > 0, got {attrs.get('fps')!r}")
    group = zarr.open_group(str(path), mode="w-")
    _create_array(group, "video", video, (1,) + video.shape[1:])
    for name, values in (labels or {}).items():
        values = np.asarray(values)
        if values.shape[0] != video.shape[0]:
            raise ValueError(f"labels/{name}: first axis {values.shape[0]} != {video.shape[0]} clips")
        _create_array(group, f"labels/{name}", values, (1,) + values.shape[1:])
    group.attrs.update({"format": FORMAT, "version": VERSION, "kind": kind, **_jsonable(attrs)})
    return Path(path)


def _jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


def open_video_store(path: Path | str, kind: str | None = None) -> VideoStore:
    """Open a store written by :func:`write_video_store`; ``kind`` (if given) must match.

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a folder that is not a
    sciffusion video store.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such zarr store")
    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a non-store folder
        raise ValueError(f"{path}: not a zarr store ({type(exc).__name__})") from None
    attrs = dict(group.attrs)
    if attrs.get("format") != FORMAT or "video" not in group:
        raise ValueError(f"{path}: not a sciffusion video store (no 'video' array / format attr)")
    if kind is not None and attrs.get("kind") != kind:
        raise ValueError(f"{path}: expected a {kind} store, got kind {attrs.get('kind')!r}")
    labels = {}
    if "labels" in group:
        sub = group["labels"]
        labels = {name: sub[name] for name in sorted(sub.array_keys())}
    return VideoStore(path=path, video=group["video"], labels=labels, attrs=attrs)
