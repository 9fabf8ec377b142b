"""Video writers: MP4 (PyAV, H.264), GIF (imageio/Pillow), PNG, and context | prediction | truth grids.

All writers take uint8 frames [T, H, W, C] (C = 1 or 3) and write to the exact path given; callers
wrap them in ``atomic_path`` so a failure leaves nothing behind.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SEPARATOR_PX = 2
MIN_FPS = 100 / 65535
"""The slowest rate a GIF holds: its frame delays are 16-bit counts of 1/100 s (at most 655.35 s)."""


def check_frame_rate(fps: float, name: str = "fps") -> None:
    """Raise a one-line ``ValueError`` naming ``name`` unless the MP4 and GIF writers can store ``fps``
    (frames per second): finite and at least :data:`MIN_FPS`."""
    if not MIN_FPS <= fps < math.inf:  # also refuses NaN
        raise ValueError(f"{name}: need a finite frame rate >= {MIN_FPS:.4f} fps (a GIF frame lasts at most "
                         f"655.35 s), got {fps}")


def _rgb(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"frames: need uint8 [T, H, W, C] with C in (1, 3), got {frames.dtype} {frames.shape}")
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def write_mp4(path: Path | str, frames: np.ndarray, fps: float) -> Path:
    """frames: uint8 [T, H, W, C] -> H.264 MP4 at ``fps`` (frames padded to even H, W; yuv420p)."""
    import av

    check_frame_rate(fps, f"{path}: fps")
    frames = _rgb(frames)
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)


def write_gif(path: Path | str, frames: np.ndarray, fps: float) -> Path:
    """frames: uint8 [T, H, W, C] -> looping GIF, one frame every 1/fps s."""
    import imageio.v3 as iio

    check_frame_rate(fps, f"{path}: fps")
    iio.imwrite(str(path), _rgb(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    return Path(path)


def write_png(path: Path | str, image: np.ndarray) -> Path:
    """image: uint8 [H, W, C] -> PNG."""
    import imageio.v3 as iio

    iio.imwrite(str(path), _rgb(image[None])[0], extension=".png")
    return Path(path)


def write_video(path: Path | str, frames: np.ndarray, fps: float) -> Path:
    """Dispatch on the suffix: ``.mp4`` or ``.gif``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".mp4":
        return write_mp4(path, frames, fps)
    if suffix == ".gif":
        return write_gif(path, frames, fps)
    raise ValueError(f"{path}: unknown video suffix {suffix!r} (use .mp4 or .gif)")


def _hstack(panels: list[np.ndarray], value: int = 255) -> np.ndarray:
    """panels [..., H, W, 3] -> side by side with a white separator."""
    sep = np.full(panels[0].shape[:-2] + (SEPARATOR_PX, 3), value, np.uint8)
    out = [panels[0]]
    for p in panels[1:]:
        out += [sep, p]
    return np.concatenate(out, axis=-2)


def _vstack(rows: list[np.ndarray], value: int = 255) -> np.ndarray:
    sep = np.full(rows[0].shape[:-3] + (SEPARATOR_PX,) + rows[0].shape[-2:], value, np.uint8)
    out = [rows[0]]
    for r in rows[1:]:
        out += [sep, r]
    return np.concatenate(out, axis=-3)


def comparison_strip(context: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """One clip as a still image: row 1 context | prediction, row 2 context | truth.

    context: [T_c, H, W, C]; prediction, truth: [T_p, H, W, C] -> uint8 [2H + sep, (T_c + T_p) W + seps, 3].
    """
    context, prediction, truth = _rgb(context), _rgb(prediction), _rgb(truth)
    if prediction.shape != truth.shape:
        raise ValueError(f"grid: prediction {prediction.shape} and truth {truth.shape} differ")
    top = _hstack(list(context) + list(prediction))
    bottom = _hstack(list(context) + list(truth))
    return _vstack([top, bottom])


def comparison_frames(context: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Animated grid for N clips: each output frame is, per clip row, three panels
    context | prediction | truth. During the context the middle panel is blank; afterwards the context
    panel holds the last context frame (blank throughout when T_c = 0).

    context: [N, T_c, H, W, C]; prediction, truth: [N, T_p, H, W, C] -> uint8 [T_c + T_p, H', W', 3].
    """
    context, prediction, truth = (np.asarray(a) for a in (context, prediction, truth))
    if context.ndim != 5 or prediction.shape != truth.shape or context.shape[0] != prediction.shape[0]:
        raise ValueError(f"grid: need context [N, Tc, H, W, C] and prediction/truth [N, Tp, H, W, C], got "
                         f"{context.shape}, {prediction.shape}, {truth.shape}")
    n, tc = context.shape[:2]
    tp = prediction.shape[1]
    blank = np.zeros(prediction.shape[2:4] + (3,), np.uint8)
    frames = []
    for t in range(tc + tp):
        rows = []
        for i in range(n):
            ctx = _rgb(context[i, min(t, tc - 1)][None])[0] if tc else blank
            if t < tc:
                pred, true = np.zeros_like(ctx), ctx
            else:
                pred, true = _rgb(prediction[i, t - tc][None])[0], _rgb(truth[i, t - tc][None])[0]
            rows.append(_hstack([ctx, pred, true]))
        frames.append(_vstack(rows))
    return np.stack(frames)


def comparison_still(context: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Still grid for N clips (one :func:`comparison_strip` per clip, stacked), uint8 [H', W', 3]."""
    return _vstack([comparison_strip(c, p, t) for c, p, t in zip(context, prediction, truth)], value=128)


def contact_sheet(clips: np.ndarray) -> np.ndarray:
    """Still grid of N clips, one row per clip and one column per frame: clips uint8 [N, T, H, W, C]
    -> uint8 [N·H + seps, T·W + seps, 3]."""
    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise ValueError(f"contact sheet: need clips [N, T, H, W, C], got shape {clips.shape}")
    return _vstack([_hstack(list(_rgb(clip))) for clip in clips], value=128)


HEADER_PX = 16
"""Height of a labelled sheet's header (frame numbers) and of its frame-kind bar's band."""
MARK_PX = 3
CONTEXT_MARK = (70, 130, 220)  # blue: frames given to the model (real)
GENERATED_MARK = (240, 150, 40)  # orange: frames the model made


def labelled_contact_sheet(clips: np.ndarray, row_labels: list[str], context_frames: int = 0) -> np.ndarray:
    """:func:`contact_sheet` with a white header of frame numbers (1-based) over each column, a bar
    under the header saying which frames are real context (blue, the first ``context_frames``) and
    which generated (orange), and ``row_labels[i]`` left of row i. uint8 [HEADER_PX + sheet H, label
    width + sheet W, 3]."""
    from PIL import Image, ImageDraw

    clips = np.asarray(clips)
    sheet = contact_sheet(clips)
    n, t, h, w = clips.shape[:4]
    if len(row_labels) != n:
        raise ValueError(f"contact sheet: {len(row_labels)} row labels for {n} clips")
    if not 0 <= context_frames <= t:
        raise ValueError(f"contact sheet: context_frames {context_frames} not in [0, {t}]")
    draw_probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = 6 + max((int(draw_probe.textlength(text)) for text in row_labels), default=0)
    canvas = Image.new("RGB", (label_w + sheet.shape[1], HEADER_PX + sheet.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(sheet), (label_w, HEADER_PX))
    draw = ImageDraw.Draw(canvas)
    for j in range(t):
        x0 = label_w + j * (w + SEPARATOR_PX)
        draw.text((x0 + 2, 1), str(j + 1), fill=(0, 0, 0))
        colour = CONTEXT_MARK if j < context_frames else GENERATED_MARK
        draw.rectangle((x0, HEADER_PX - MARK_PX, x0 + w - 1, HEADER_PX - 1), fill=colour)
    for i, text in enumerate(row_labels):
        y0 = HEADER_PX + i * (h + SEPARATOR_PX)
        draw.text((3, y0 + max(0, h // 2 - 6)), text, fill=(0, 0, 0))
    return np.asarray(canvas)
