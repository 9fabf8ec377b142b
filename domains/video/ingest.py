"""Real footage in: decode a video file, resample it in time, centre-crop and resize it to square clips.

Decoding uses decord (``VideoReader``) and falls back to PyAV when decord is missing or fails.
Frames are resampled to ``fps`` by nearest source timestamp (frame ``k`` of the output is source
frame ``round(k · fps_src / fps)``), centre-cropped to a square and resized with PIL bilinear
(antialiased) to ``size × size``. Output: uint8 [N, T, size, size, 3].
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np
from PIL import Image


Fit = Literal["crop", "stretch"]
FITS = ("crop", "stretch")


@dataclass(frozen=True)
class IngestConfig:
    """size: output H = W in px; fps: output frame rate (None: keep the source rate);
    clip_frames: T per clip (None: the whole video is one clip); min_frames: fewer is an error;
    fit: ``crop`` (centre square) or ``stretch`` (whole frame, aspect changed), see :func:`square_resize`;
    channels: 3 (RGB) or 1 (grey, :func:`to_grey`)."""

    size: int = 64
    fps: float | None = None
    clip_frames: int | None = None
    min_frames: int = 2
    fit: Fit = "crop"
    channels: int = 3

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"--size: must be >= 8, got {self.size}")
        if self.fps is not None and not 0 < self.fps < math.inf:
            raise ValueError(f"--fps: must be a finite number > 0, got {self.fps}")
        if self.clip_frames is not None and self.clip_frames < 1:
            raise ValueError(f"--clip-frames: must be >= 1, got {self.clip_frames}")
        if self.min_frames < 1:
            raise ValueError(f"--min-frames: must be >= 1, got {self.min_frames}")
        if self.fit not in FITS:
            raise ValueError(f"--fit: need one of {', '.join(FITS)}, got {self.fit!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"--channels: need 1 (grey) or 3 (RGB), got {self.channels}")


@dataclass(frozen=True)
class DecodedVideo:
    """frames: uint8 [T, size, size, 3]; fps: their rate; source_*: what the file held."""

    frames: np.ndarray
    fps: float
    source_fps: float
    source_frames: int
    source_size: tuple[int, int]
    decoder: str
    indices: np.ndarray


def square_resize(frame: np.ndarray, size: int, fit: Fit = "crop") -> np.ndarray:
    """frame: uint8 [H, W, 3] -> uint8 [size, size, 3], PIL bilinear (antialiased). ``fit="crop"``
    keeps the centre square (no distortion; the sides of a wide frame are lost), ``"stretch"`` scales
    the whole frame to the square (everything kept, aspect ratio changed)."""
    if fit not in FITS:
        raise ValueError(f"--fit: need one of {', '.join(FITS)}, got {fit!r}")
    h, w = frame.shape[:2]
    if fit == "crop":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        frame = frame[top:top + side, left:left + side]
    image = Image.fromarray(np.ascontiguousarray(frame))
    return np.asarray(image.resize((size, size), Image.BILINEAR, reducing_gap=None), np.uint8)


def to_grey(frames: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] RGB -> uint8 [..., 1] luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B, as PIL's "L")."""
    luma = frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]


def has_colour(frames: np.ndarray, spread: int = 16, fraction: float = 1e-3) -> bool:
    """True when more than ``fraction`` of the pixels of uint8 [..., C] frames differ between channels by
    more than ``spread`` levels. Single-channel frames are grey. The margins ignore codec noise (grey
    content through H.264 or JPEG) and still see a few coloured cars on a grey road (highway-env: about
    1 % of pixels)."""
    if frames.shape[-1] == 1 or frames.size == 0:
        return False
    channel_spread = frames.max(axis=-1).astype(np.int16) - frames.min(axis=-1)
    return bool((channel_spread > spread).mean() > fraction)


class FrameRateError(ValueError):
    """``--fps`` does not fit the source (raised through the decoder fallback, not as a decode failure)."""


def resample_indices(num_frames: int, source_fps: float, fps: float | None) -> np.ndarray:
    """Source frame indices for output rate ``fps`` (nearest timestamp), [T_out]. Resampling only drops
    frames: ``fps`` above ``source_fps`` (which could only repeat them) is a :class:`FrameRateError`."""
    if fps is None or abs(fps - source_fps) < 1e-9:
        return np.arange(num_frames)
    if fps > source_fps * (1 + 1e-6):
        raise FrameRateError(f"--fps: {fps:g} is above the source rate {source_fps:g} fps (resampling keeps the "
                             "nearest source frame, so a higher rate would only repeat frames)")
    duration = num_frames / source_fps
    count = int(np.floor(duration * fps + 1e-9))
    idx = np.rint(np.arange(count) * source_fps / fps).astype(np.int64)
    return idx[idx < num_frames]


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null for the block: for a corrupt file decord's bundled FFmpeg and its C++
    logger write lines there (``[mov,mp4,...] moov atom not found``, ``... ERROR opening: ...``) that Python
    cannot catch, around the one-line error :func:`decode_video` makes of the exception."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _decode_decord(path: Path, cfg: IngestConfig, progress) -> DecodedVideo:
    import decord

    with _native_stderr_silenced():  # only the opening: the progress bar draws on stderr while frames decode
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    n = len(reader)
    if n == 0:
        raise ValueError("no frames")
    src_fps = float(reader.get_avg_fps()) or 25.0
    first = reader[0].asnumpy()
    idx = resample_indices(n, src_fps, cfg.fps)
    out = np.empty((len(idx), cfg.size, cfg.size, 3), np.uint8)
    for start in range(0, len(idx), 32):
        chunk = idx[start:start + 32]
        batch = reader.get_batch(chunk.tolist()).asnumpy()
        for j, frame in enumerate(batch):
            out[start + j] = square_resize(frame, cfg.size, cfg.fit)
        if progress is not None:
            progress(len(chunk))
    return DecodedVideo(out, cfg.fps or src_fps, src_fps, n, first.shape[:2], "decord", idx)


def _decode_pyav(path: Path, cfg: IngestConfig, progress) -> DecodedVideo:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        src_fps = float(stream.average_rate or 25.0)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise ValueError("no frames")
    idx = resample_indices(len(frames), src_fps, cfg.fps)
    out = np.stack([square_resize(frames[i], cfg.size, cfg.fit) for i in idx]) if len(idx) else \
        np.zeros((0, cfg.size, cfg.size, 3), np.uint8)
    if progress is not None:
        progress(len(idx))
    return DecodedVideo(out, cfg.fps or src_fps, src_fps, len(frames), frames[0].shape[:2], "pyav", idx)


def _skip_sub_blocks(data: bytes, i: int) -> int:
    """Index after the data sub-blocks starting at ``i`` (size byte, bytes, ..., 0); -1 past the end."""
    while i < len(data):
        size = data[i]
        i += 1 + size
        if size == 0:
            return i
    return -1


def gif_problem(data: bytes) -> str | None:
    """Why the bytes of a GIF (``GIF87a``/``GIF89a`` header) are not a whole file, or None. Walks the
    block structure (GIF89a spec: screen descriptor, colour tables, extensions and images as data
    sub-blocks) to the trailer byte 0x3B, so a file cut anywhere, also inside an image or exactly at a
    sub-block boundary, is caught; decoders return the frames before the cut without an error."""
    if len(data) < 13:
        return "shorter than a GIF header"
    i = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # global colour table
    while i < len(data):
        block = data[i]
        if block == 0x3B:
            return None
        if block == 0x21:  # extension: label, then sub-blocks
            i = _skip_sub_blocks(data, i + 2)
        elif block == 0x2C:  # image descriptor (10 bytes), local colour table, LZW code size, sub-blocks
            if i + 10 > len(data):
                break
            flags = data[i + 9]
            i += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            i = _skip_sub_blocks(data, i) if i <= len(data) else -1
        else:
            return f"unknown block 0x{block:02X} at byte {i}"
        if i < 0:
            break
    return "truncated (the file ends before the GIF trailer)"


def _is_gif(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(6) in (b"GIF87a", b"GIF89a")


def decode_video(path: Path | str, cfg: IngestConfig, decoders: tuple[str, ...] = ("decord", "pyav"),
                 progress: Callable[[int], None] | None = None) -> DecodedVideo:
    """Decode ``path`` with the first decoder that works. One-line ``ValueError`` for a file no decoder
    can read, an empty file or one with fewer than ``cfg.min_frames`` (or ``clip_frames``) frames."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file")
    problem = gif_problem(path.read_bytes()) if _is_gif(path) else None
    if problem is not None:  # decoders return the frames before the cut without an error
        raise ValueError(f"{path}: broken GIF: {problem}")
    impl = {"decord": _decode_decord, "pyav": _decode_pyav}
    failures = []
    decoded = None
    for name in decoders:
        try:
            decoded = impl[name](path, cfg, progress)
            break
        except ImportError as exc:
            failures.append(f"{name}: not installed ({exc.name})")
        except FrameRateError as exc:  # the file decodes; the option does not fit it
            raise ValueError(f"{path}: {exc}") from None
        except Exception as exc:  # decoders raise their own error types for corrupt input
            failures.append(f"{name}: {str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__}")
    if decoded is None:
        raise ValueError(f"{path}: cannot decode video ({'; '.join(failures)})")
    need = max(cfg.min_frames, cfg.clip_frames or 0)
    if len(decoded.frames) < need:
        raise ValueError(f"{path}: {len(decoded.frames)} frames at {decoded.fps:g} fps, need at least {need}")
    return decoded


def split_clips(frames: np.ndarray, clip_frames: int | None) -> np.ndarray:
    """frames [T, H, W, C] -> non-overlapping clips [N, clip_frames, H, W, C] (the tail is dropped);
    ``None`` gives one clip [1, T, H, W, C]."""
    if clip_frames is None:
        return frames[None]
    n = len(frames) // clip_frames
    return frames[: n * clip_frames].reshape(n, clip_frames, *frames.shape[1:])
