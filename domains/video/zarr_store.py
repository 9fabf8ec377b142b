"""The on-disk layout of every video set in sciffusion: one zarr group per set.

Layout (format version 1, documented in ``docs/video.md``)::

    X.zarr/
      video            uint8 [N, T, H, W, C]      clips, RGB (C=3) or grey (C=1); chunks (1, T, H, W, C)
      labels/<name>    [N, T] or [N, ...]         optional per-frame / per-clip labels, chunked by clip
      .attrs           {"format": "sciffusion-video", "version": 1, "kind": "dataset" | "prediction",
                        "fps": float, ... generator metadata (seed, split, source, ...)}

A prediction store (``kind == "prediction"``) holds ``video`` uint8 [N, K, T_pred, H, W, C]
(K samples per clip, K=1 for deterministic baselines) and integer attrs ``context`` and ``horizon``
(= T_pred), with ``method`` and ``truth`` (the path of the data store it predicts).

Every chunk of the grid is written, all-zero ones included, so :func:`open_video_store` can tell a
deleted chunk (which zarr would silently read as zeros) from data. Opening a store checks the whole
layout (dtypes, shapes, attrs, every chunk present and decodable) and raises one-line errors that
name the store.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import zarr

FORMAT = "sciffusion-video"
VERSION = 1
KINDS = ("dataset", "prediction")
METADATA_FILES = ("zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata")


@dataclass(frozen=True)
class VideoStore:
    """A read-only view of a video zarr group whose layout :func:`open_video_store` has checked.

    video: zarr array, uint8 [N, T, H, W, C] (dataset) or [N, K, T, H, W, C] (prediction); for a plain
        store of grey clips [N, T, H, W], a :class:`GreyChannelView` that reads them as [N, T, H, W, 1].
    labels: name -> zarr array, first axis N.
    attrs: the group attributes (metadata).
    """

    path: Path
    video: Any
    labels: Mapping[str, Any] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)
    assumed: str | None = None  # what was assumed for a plain store (no sciffusion attrs), said to the user

    @property
    def kind(self) -> str:
        return str(self.attrs["kind"])

    @property
    def num_clips(self) -> int:
        return int(self.video.shape[0])

    @property
    def fps(self) -> float:
        return float(self.attrs["fps"])

    @property
    def context(self) -> int:
        """Prediction stores: frames of the truth clip the prediction was conditioned on."""
        return int(self.attrs["context"])

    @property
    def horizon(self) -> int:
        """Prediction stores: predicted frames per sample, T_pred."""
        return int(self.attrs["horizon"])


def _create_array(group, name: str, data: np.ndarray, chunks: tuple[int, ...]):
    if hasattr(group, "create_array"):  # zarr >= 3
        arr = group.create_array(name, shape=data.shape, chunks=chunks, dtype=data.dtype,
                                 config={"write_empty_chunks": True})
    else:  # zarr 2
        arr = group.create_dataset(name, shape=data.shape, chunks=chunks, dtype=data.dtype,
                                   write_empty_chunks=True)
    arr[...] = data
    return arr


def check_video_array(video: Any, kind: str = "dataset", name: str = "video") -> None:
    """Raise ``ValueError`` unless ``video`` (numpy or zarr) is uint8 [N, T, H, W, C] (dataset) or
    [N, K, T, H, W, C] (prediction) with C in (1, 3) and no empty axis."""
    ndim = 5 if kind == "dataset" else 6
    axes = "[N, T, H, W, C]" if ndim == 5 else "[N, K, T, H, W, C]"
    if video.dtype != np.uint8:
        raise ValueError(f"{name}: need uint8 frames, got {video.dtype}")
    if video.ndim != ndim:
        raise ValueError(f"{name}: need {axes}, got shape {tuple(video.shape)}")
    if video.shape[-1] not in (1, 3):
        raise ValueError(f"{name}: need 1 or 3 channels in the last axis, got {video.shape[-1]}")
    if kind == "prediction" and video.shape[1] < 1:
        raise ValueError(f"{name}: need K >= 1 samples per clip, got shape {tuple(video.shape)} {axes}")
    if min(video.shape) < 1:
        raise ValueError(f"{name}: empty array of shape {tuple(video.shape)} {axes}")


def write_video_store(path: Path | str, video: np.ndarray, attrs: Mapping[str, Any],
                      labels: Mapping[str, np.ndarray] | None = None, kind: str = "dataset") -> Path:
    """Write ``video`` (uint8 [N, T, H, W, C], or [N, K, T, H, W, C] for predictions) to a new zarr store.

    The caller makes ``path`` atomic (``sciffusion.common.io.atomic.atomic_path``); this function
    only writes. Every array is chunked one clip per chunk, and every chunk is written.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {KINDS}, got {kind!r}")
    video = np.asarray(video)
    check_video_array(video, kind)
    if "fps" not in attrs or not 0 < float(attrs["fps"]) < math.inf:
        raise ValueError(f"{path}: attrs need a finite fps > 0, got {attrs.get('fps')!r}")
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


def looks_like_store(path: Path | str) -> bool:
    """True when ``path`` is meant as a zarr store: named ``*.zarr``, or a folder with zarr group or array
    metadata (v3 ``zarr.json``, v2 ``.zgroup``/``.zarray``). Whether it is a readable video store is
    :func:`open_video_store`'s question."""
    path = Path(path)
    return path.suffix == ".zarr" or any((path / name).is_file() for name in ("zarr.json", ".zgroup", ".zarray"))


def open_video_store(path: Path | str, kind: str | None = None) -> VideoStore:
    """Open a store written by :func:`write_video_store`; ``kind`` (if given) must match.

    The layout is checked here, once for every reader: metadata JSON, ``format``/``kind``/``fps``
    attrs, ``video`` dtype and shape, prediction attrs ``context`` and ``horizon``, labels with N
    first, and every chunk present and decodable (this reads the whole store once). Raises
    ``FileNotFoundError`` for a missing path and ``ValueError`` (``<store>: <problem>``) otherwise.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such zarr store")
    _check_metadata_json(path)
    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a non-store folder
        if type(exc).__name__ == "ContainsArrayError":  # zarr.save_array's layout (zarr 2 and 3): no group
            raise ValueError(f"{path}: a bare zarr array, not a store; put it in a zarr group as the array "
                             "'video' (uint8 [N, T, H, W, C])") from None
        raise ValueError(f"{path}: not a zarr store ({type(exc).__name__})") from None
    attrs = dict(group.attrs)
    if _member(path, group, "video") is None:
        raise ValueError(f"{path}: not a sciffusion video store (no 'video' array)")
    plain = "format" not in attrs and "kind" not in attrs  # another tool's store in the documented layout
    assumed = None
    if plain:
        attrs, assumed = _plain_store_attrs(path, attrs)
    if attrs.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sciffusion video store: its attrs need format={FORMAT!r}, kind='dataset' "
                         f"and fps (got format {attrs.get('format')!r}; 'sciffusion video ingest' writes them)")
    if attrs.get("kind") not in KINDS:
        raise ValueError(f"{path}: attr 'kind' must be one of {KINDS}, got {attrs.get('kind')!r}")
    if kind is not None and attrs["kind"] != kind:
        raise ValueError(f"{path}: expected a {kind} store, got kind {attrs['kind']!r}")
    fps = attrs.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
        raise ValueError(f"{path}: attr 'fps' must be a number > 0 (finite), got {fps!r}")
    stored = _member(path, group, "video")
    if not isinstance(stored, zarr.Array):
        raise ValueError(f"{path}: 'video' is a group, need a uint8 array")
    video = clips_view(stored) if plain and stored.dtype == np.uint8 else stored
    if video is not stored:
        assumed += "; its video [N, T, H, W] read as grey [N, T, H, W, 1]"
    check_video_array(video, attrs["kind"], name=f"{path}/video")
    if attrs["kind"] == "prediction":
        _check_prediction_attrs(path, attrs, video.shape)
    labels = _open_labels(path, group, video.shape[0])
    check_chunks(path, stored, require_present=not plain)  # plain stores: zarr's default writer omits
    for arr in labels.values():  # all-fill chunks, so an absent one reads as fill (zeros)
        check_chunks(path, arr, require_present=False)
    return VideoStore(path=path, video=video, labels=labels, attrs=attrs, assumed=assumed)


class GreyChannelView:
    """A plain store's grey clips, zarr uint8 [N, T, H, W], read lazily as [N, T, H, W, 1] (the layout every
    reader takes): indexing the leading axes reads only those clips from ``base``; a key that reaches the
    channel axis (five entries, or an ``...`` among others) reads the whole array first."""

    def __init__(self, base: Any):
        self.base = base

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.base.shape) + (1,)

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    @property
    def ndim(self) -> int:
        return self.base.ndim + 1

    def __len__(self) -> int:
        return int(self.base.shape[0])

    def __getitem__(self, key: Any) -> np.ndarray:
        parts = key if isinstance(key, tuple) else (key,)
        if key is Ellipsis or (len(parts) < self.ndim and not any(p is Ellipsis or p is None for p in parts)):
            return np.asarray(self.base[key])[..., None]
        return np.asarray(self.base[...])[..., None][key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        return out if dtype is None else out.astype(dtype)


def clips_view(video: Any) -> Any:
    """A checked store's zarr ``video`` as every reader takes it: a plain store's grey clips [N, T, H, W]
    through :class:`GreyChannelView` as [N, T, H, W, 1], anything else as it is."""
    return GreyChannelView(video) if video.ndim == 4 else video


def video_fingerprint(store: VideoStore) -> str:
    """A content fingerprint of ``store.video`` (hex SHA-256 of its shape, dtype and the bytes of its
    first, middle and last clips): the same clips under another path or name give the same value, so a
    model file can say which store it was trained on (``meta["data_fingerprints"]``) wherever it lies."""
    import hashlib

    video = store.video
    digest = hashlib.sha256(f"{tuple(video.shape)}|{video.dtype}".encode())
    n = int(video.shape[0])
    for i in sorted({0, n // 2, n - 1}):
        digest.update(np.ascontiguousarray(video[i]).tobytes())
    return digest.hexdigest()


PLAIN_STORE_FPS = 10.0  # frame rate assumed for a plain store without an 'fps' attr (frame folders' default)


def _plain_store_attrs(path: Path, attrs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A plain store's attrs (no ``format``/``kind``: written by another tool in the documented layout,
    ``video`` uint8 [N, T, H, W, C] and optional ``labels/``) completed as a dataset store, and the line
    that says what was assumed. Its own ``fps`` attr is kept when it is a number; nothing is written. A
    ``video`` uint8 [N, T, H, W] (grey, no channel axis) is read through :class:`GreyChannelView`."""
    fps = attrs.get("fps")
    given = not isinstance(fps, bool) and isinstance(fps, (int, float)) and 0 < fps < math.inf
    rate = float(fps) if given else PLAIN_STORE_FPS
    line = (f"{path}: no sciffusion attrs; read as a dataset store (video [N, T, H, W, C]) at "
            f"{rate:g} fps" + ("" if given else " (assumed; an 'fps' attr sets it)"))
    return {**attrs, "format": FORMAT, "version": VERSION, "kind": "dataset", "fps": rate}, line


def _member(path: Path, group, name: str):
    """``group[name]`` (None if absent); metadata zarr cannot parse (a wrong shape or data type in
    ``zarr.json``/``.zarray``) is a one-line error naming the store and the member."""
    try:
        return group[name] if name in group else None
    except (KeyError, TypeError, ValueError) as exc:  # zarr's metadata parsers raise these
        raise ValueError(f"{path}: {name} has invalid zarr metadata ({_first_line(exc)})") from None


def _first_line(exc: BaseException, limit: int = 120) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_metadata_json(path: Path) -> None:
    """Raise naming the first metadata file of the store root, ``video`` or ``labels`` that is not JSON."""
    labels = path / "labels"
    nodes = [path, path / "video", labels] + (sorted(labels.iterdir()) if labels.is_dir() else [])
    for node in nodes:
        for name in METADATA_FILES:
            meta = node / name
            if not meta.is_file():
                continue
            try:
                json.loads(meta.read_bytes())
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                raise ValueError(f"{path}: {meta.relative_to(path)} is not valid JSON ({exc})") from None


def _int_attr(path: Path, attrs: Mapping[str, Any], name: str) -> int:
    value = attrs.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{path}: attr {name!r} must be an integer, got {value!r}")
    return value


def _check_prediction_attrs(path: Path, attrs: Mapping[str, Any], shape: tuple[int, ...]) -> None:
    context, horizon = _int_attr(path, attrs, "context"), _int_attr(path, attrs, "horizon")
    if context < 0:
        raise ValueError(f"{path}: attr 'context' must be >= 0, got {context}")
    if horizon != shape[2]:
        raise ValueError(f"{path}: attr 'horizon' is {horizon}, but video holds {shape[2]} predicted frames")


def _open_labels(path: Path, group, num_clips: int) -> dict[str, Any]:
    """labels/<name> -> zarr array [N, ...]; anything else under labels is an error."""
    if "labels" not in group:
        return {}
    sub = _member(path, group, "labels")
    if isinstance(sub, zarr.Array):
        raise ValueError(f"{path}: 'labels' is an array, need a group of arrays [N, ...]")
    try:
        nested, names = sorted(sub.group_keys()), sorted(sub.array_keys())
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: labels holds a member with invalid zarr metadata ({_first_line(exc)})") from None
    if nested:
        raise ValueError(f"{path}: labels/{nested[0]} is a group, need an array [N, ...]")
    labels = {name: _member(path, group, f"labels/{name}") for name in names}
    for name, arr in labels.items():
        if arr.ndim < 1 or arr.shape[0] != num_clips:
            raise ValueError(f"{path}: labels/{name} has shape {tuple(arr.shape)}, need N = {num_clips} first")
    return labels


def _chunk_key(arr, coords: tuple[int, ...]) -> str:
    """The store key of one chunk, relative to the array's folder."""
    metadata = getattr(arr, "metadata", None)
    if hasattr(metadata, "encode_chunk_key"):  # zarr >= 3, for v2 and v3 stores
        return metadata.encode_chunk_key(coords)
    return (getattr(arr, "_dimension_separator", None) or ".").join(map(str, coords))  # zarr 2


def check_chunks(path: Path, arr, slab_bytes: int = 64 * 2**20, require_present: bool = True) -> None:
    """Raise unless every chunk on ``arr``'s chunk grid is a file in the store at ``path`` and decodes.

    zarr reads a missing chunk as the fill value, so a deleted clip would score as black frames:
    ``video`` needs every chunk. Labels pass ``require_present=False``: stores written by zarr's
    default writer (ours before all-zero chunks were stored, or another tool's) omit chunks that
    are all fill value (a driving clip without events), so an absent label chunk means "fill".
    Chunks are decoded in slabs of about ``slab_bytes`` along axis 0, one by one only to name a bad one.
    """
    name = arr.path.strip("/")
    if getattr(arr, "shards", None) is not None:
        raise ValueError(f"{path}: {name} is sharded; the layout stores one chunk file per clip")
    grid = tuple(arr.cdata_shape)
    for coords in np.ndindex(*grid) if require_present else ():
        key = f"{name}/{_chunk_key(arr, coords)}"
        if not (path / key).is_file():
            raise ValueError(f"{path}: chunk {key} is missing")
    row_bytes = arr.chunks[0] * int(np.prod(arr.shape[1:])) * arr.dtype.itemsize
    step = max(1, slab_bytes // max(row_bytes, 1))  # chunk rows per slab
    for first in range(0, grid[0], step):
        try:
            arr[first * arr.chunks[0]:(first + step) * arr.chunks[0]]
        except Exception:  # codecs raise RuntimeError, ValueError, ...; find and name the chunk
            for coords in np.ndindex(min(step, grid[0] - first), *grid[1:]):
                _decode_chunk(path, arr, (first + coords[0],) + coords[1:])


def _decode_chunk(path: Path, arr, coords: tuple[int, ...]) -> None:
    region = tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, arr.chunks))
    try:
        arr[region]
    except Exception as exc:  # any decode failure means a bad chunk
        key = f"{arr.path.strip('/')}/{_chunk_key(arr, coords)}"
        raise ValueError(f"{path}: chunk {key} is corrupt ({type(exc).__name__})") from None


def check_prediction_pair(pred: VideoStore, truth: VideoStore) -> None:
    """Raise unless ``pred`` predicts every clip of ``truth`` (same N), or says it predicts the first N
    (attr ``first_clips`` = N, written by ``video predict --clips N``); the same frame size [H, W, C], and
    truth clips of at least context + horizon frames."""
    n, t = pred.num_clips, truth.video.shape[1]
    first = pred.attrs.get("first_clips")
    if n != truth.num_clips and not (first == n and n < truth.num_clips):
        raise ValueError(f"{pred.path}: {n} clips, but its truth store {truth.path} has {truth.num_clips}"
                         + (f" (the store says it predicts the first {first})" if first is not None else ""))
    if t < pred.context + pred.horizon:
        raise ValueError(f"{truth.path}: {t} frames per clip, need context + horizon = "
                         f"{pred.context + pred.horizon}")
    if pred.video.shape[3:] != truth.video.shape[2:]:
        raise ValueError(f"{pred.path}: frames {tuple(pred.video.shape[3:])} != truth frames "
                         f"{tuple(truth.video.shape[2:])} in {truth.path}")
