"""``sciffusion video predict``: continue clips from their first K frames with a trained model.

Input: a zarr dataset store (clips [N, T, H, W, C]) or a video file (decoded like ``ingest``, frames
resized to the model's size; one clip). Each clip's frames [0, K) are the context; the model rolls
out ``frames`` new frames (:func:`~sciffusion.domains.video.sampling.rollout`), ``samples`` times.

Outputs (each written atomically, never over an existing file without ``overwrite``):
``out`` (.mp4/.gif) context + prediction of clip 0, sample 0; ``compare`` (default ``<out>_compare``
with the same suffix) context | prediction | truth for the first ``compare_clips`` clips (truth frames
past the end of the input are black); ``store`` (optional, zarr input only) a prediction store
``video`` uint8 [N, K, frames, H, W, C] that ``sciffusion video evaluate`` reads against the input
store; ``<out>.json`` the resolved settings.

Sampling: the sampler, steps and warm start the user leaves unset come from the model file's recommendation
(``meta["predict"]``, :func:`~sciffusion.domains.video.sampling.recommended_prediction`), else the
:class:`SamplingConfig` defaults; the summary and settings say which came from the file.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np

from sciffusion.common.io.atomic import atomic_path
from sciffusion.common.io.outputs import check_outputs
from sciffusion.pipelines.video.sampling_run import SamplingRun, load_model

VIDEO_SUFFIXES = (".mp4", ".gif")


@dataclass(frozen=True)
class PredictConfig:
    input: Path
    out: Path
    run: SamplingRun = field(default_factory=SamplingRun)
    context: int = 10
    frames: int = 10
    samples: int = 1
    clips: Optional[int] = None
    store: Optional[Path] = None
    compare: Optional[Path] = None
    compare_clips: int = 4
    overwrite: bool = False

    def __post_init__(self) -> None:
        if Path(self.out).suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"--out: {self.out} must end in .mp4 or .gif")
        if self.compare is not None and Path(self.compare).suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"--compare: {self.compare} must end in .mp4 or .gif")
        if self.store is not None and Path(self.store).suffix != ".zarr":
            raise ValueError(f"--store: {self.store} should end in .zarr")
        for name in ("context", "frames", "samples", "compare_clips"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")
        if self.clips is not None and self.clips < 1:
            raise ValueError(f"--clips: must be >= 1, got {self.clips}")

    @property
    def compare_path(self) -> Path:
        out = Path(self.out)
        return Path(self.compare) if self.compare is not None else out.with_name(f"{out.stem}_compare{out.suffix}")


class InputClips(NamedTuple):
    """What :func:`read_clips` read: ``video`` uint8 [N, T, size, size, channels], ``fps``, ``is_store`` (a zarr
    dataset store), ``adapted`` (one line saying what was assumed of a plain store and how the frames were
    brought to the model: cropped, resized, made grey; None when nothing was) and ``refitted`` (the frames
    were changed for the model, so the input cannot be the truth a prediction store is scored against)."""

    video: np.ndarray
    fps: float
    is_store: bool
    adapted: Optional[str]
    refitted: bool


def read_clips(path: Path, size: int, channels: int, clips: Optional[int]) -> InputClips:
    """The clips of a zarr store, an ``.npz`` of ``clips``, a video file or a folder of frame images (one
    clip; frame folders and ``.npz`` clips at the default frame rate of 10 fps) for a model of ``size``² ×
    ``channels`` (:class:`InputClips`)."""
    path = Path(path)
    from sciffusion.domains.video.image_sequence import DEFAULT_FRAME_RATE
    from sciffusion.domains.video.zarr_store import looks_like_store, open_video_store

    if looks_like_store(path):
        store = open_video_store(path, kind="dataset")
        n = store.num_clips if clips is None else min(clips, store.num_clips)
        video, adapted = fit_store_frames(path, store.video[:n], size, channels)
        return InputClips(video, store.fps, True, "; ".join(filter(None, (store.assumed, adapted))) or None,
                          adapted is not None)
    if path.suffix.lower() == ".npz" and path.is_file():
        video, adapted = fit_store_frames(path, read_npz_clips(path, clips), size, channels)
        return InputClips(video, DEFAULT_FRAME_RATE, False, adapted, adapted is not None)
    from sciffusion.domains.video.image_sequence import find_sources, read_image_sequence
    from sciffusion.domains.video.ingest import IngestConfig, decode_video, to_grey

    sources = find_sources(path)
    if len(sources) != 1:
        raise ValueError(f"{path}: {len(sources)} videos or frame folders; give one, or make a store of them "
                         f"first ('sciffusion video ingest {path} --out clips.zarr --clip-frames T')")
    source, cfg = sources[0], IngestConfig(size=size)
    decoded = read_image_sequence(source.path, cfg, DEFAULT_FRAME_RATE) if source.kind == "frames" else \
        decode_video(source.path, cfg)
    frames = to_grey(decoded.frames) if channels == 1 else decoded.frames
    adapted = adaptation_note(path, decoded, size, channels)
    return InputClips(frames[None], decoded.fps, False, adapted, adapted is not None)


def read_npz_clips(path: Path, clips: Optional[int] = None) -> np.ndarray:
    """The ``clips`` array of an ``.npz`` (the layout ``sciffusion ood`` reads: uint8 ``[N, T, H, W]`` or
    ``[N, T, H, W, C]``, C 1 or 3; other arrays ignored) as uint8 [N', T, H, W, C], its first ``clips``
    clips (all: None). One-line ``ValueError`` naming the file otherwise."""
    from sciffusion.common.io.npz import read_npz
    from sciffusion.domains.video.zarr_store import check_video_array

    def first_clips(archive) -> np.ndarray:
        if "clips" not in archive.files:
            raise ValueError(f"{path}: no 'clips' array (need uint8 [N, T, H, W] or [N, T, H, W, C]; found "
                             f"{', '.join(sorted(archive.files)) or 'no arrays'})")
        video = archive["clips"]
        if video.ndim == 4:
            video = video[..., None]
        check_video_array(video, name=f"{path}: clips")
        return np.ascontiguousarray(video[:clips])

    return read_npz(path, first_clips)


def fit_store_frames(path: Path, video: np.ndarray, size: int, channels: int) -> tuple[np.ndarray, Optional[str]]:
    """A store's clips uint8 [N, T, H, W, C] brought to a model of ``size``² × ``channels`` as footage is
    (:func:`~sciffusion.domains.video.ingest.square_resize`: centre square, bilinear; colour made grey for a
    grey model), and the note saying so (None: they fit as they are). Grey clips for a colour model are a
    one-line error."""
    from sciffusion.domains.video.ingest import square_resize, to_grey

    n, t, h, w, c = video.shape
    if c == 1 and channels == 3:
        raise ValueError(f"{path}: grey frames ({w}x{h}x1), the model takes colour ({size}x{size}x3); pass --model "
                         "for a grey model")
    if (h, w) != (size, size):
        flat = video.reshape(n * t, h, w, c)
        resized = [square_resize(f if c == 3 else f[..., 0], size) for f in flat]
        video = np.stack(resized).reshape(n, t, size, size, -1) if flat.size else \
            np.zeros((n, t, size, size, c), np.uint8)
    greyed = c == 3 and channels == 1
    return (to_grey(video) if greyed else video), adaptation_line(path, (h, w), size, greyed)


def adaptation_line(path: Path, source_size: tuple[int, int], size: int, greyed: bool) -> Optional[str]:
    """The note for frames of ``source_size`` (H, W) read from ``path`` for a model of ``size``² px, made grey
    or not, or None when nothing was done."""
    h, w = source_size
    done = []
    if (h, w) != (size, size):
        done.append(f"{w}x{h} frames {'centre-cropped to a square and ' if h != w else ''}resized to {size}x{size}")
    if greyed:
        done.append("colour made grey")
    return f"{path}: {', '.join(done)} for the model (pass --model for a model of this footage)" if done else None


def adaptation_note(path: Path, decoded, size: int, channels: int) -> Optional[str]:
    """What reading ``path`` for a model of ``size``² × ``channels`` did to its frames, or None (nothing)."""
    from sciffusion.domains.video.ingest import has_colour

    return adaptation_line(path, decoded.source_size, size, channels == 1 and has_colour(decoded.frames))


def bundled_model_for(path: Path) -> str:
    """The bundled model (a key of ``BUNDLED_MODELS``) for clips at ``path`` when no ``--model`` is given:
    ``driving-predict`` for colour frames, ``smmnist`` for grey ones (:func:`~sciffusion.domains.video.ingest.has_colour`).
    A store is judged by its channels and first clip; a video file or frame folder by its frames decoded
    at 64 px (read again at the chosen model's size afterwards)."""
    from sciffusion.domains.video.ingest import IngestConfig, has_colour
    from sciffusion.domains.video.zarr_store import looks_like_store, open_video_store

    path = Path(path)
    if looks_like_store(path):
        store = open_video_store(path, kind="dataset")
        frames = store.video[:1] if store.video.shape[-1] == 3 and store.num_clips else np.zeros((0, 1), np.uint8)
    elif path.suffix.lower() == ".npz" and path.is_file():
        frames = read_npz_clips(path, 1)
    else:
        from sciffusion.domains.video.image_sequence import DEFAULT_FRAME_RATE, decode_source, find_sources

        sources = find_sources(path)
        frames = decode_source(sources[0], IngestConfig(size=64), DEFAULT_FRAME_RATE).frames
    return "driving-predict" if has_colour(frames) else "smmnist"


UNLIKE_TRAINING_GAIN = 0.5
"""Above this median :func:`~sciffusion.domains.video.sampling.denoising_gain` (σ 0.1) ``predict`` warns that the
input looks unlike the model's training data: the bundled models score 0.02-0.09 on held-out clips of their own
kind and the synthetic driving models 1.04-1.7 on real dash-cam footage (docs/video.md, fifteenth round)."""
CHECK_SIGMA = 0.1
CHECK_CLIPS = 8


def domain_check(model, context: np.ndarray) -> Optional[float]:
    """The median denoising gain of ``model`` (its network on its device) at σ :data:`CHECK_SIGMA` on the last
    frames of the first :data:`CHECK_CLIPS` context clips (uint8 [N, T_ctx, H, W, C]; seeded), or None when the
    context is shorter than the model's past + current block. One batch through the network: no sampling."""
    import torch

    from sciffusion.domains.video.datamodule import to_unit_range
    from sciffusion.domains.video.sampling import denoising_gain

    m = model.config
    if context.shape[1] < m.past_frames + m.frames:
        return None
    clips = to_unit_range(torch.from_numpy(np.ascontiguousarray(context[:CHECK_CLIPS])))
    return float(denoising_gain(model, clips, CHECK_SIGMA, torch.Generator().manual_seed(0)).median())


def unlike_training(gain: Optional[float]) -> bool:
    """Whether :func:`domain_check`'s gain says the frames look unlike the model's training data."""
    return gain is not None and gain > UNLIKE_TRAINING_GAIN


def predict_clips(model, context: np.ndarray, horizon: int, samples: int, sampling, seed: int, batch_size: int,
                  frame_progress: Optional[Callable[[int], None]] = None,
                  clip_progress: Optional[Callable[[int], None]] = None) -> np.ndarray:
    """context uint8 [N, T_ctx, H, W, C] → prediction uint8 [N, K, horizon, H, W, C]: :func:`rollout`
    over batches of ``batch_size`` clips, ``samples`` K each, all noise from one CPU generator seeded
    ``seed`` (so the same seed and batch size give the same prediction). ``frame_progress(frames)``
    after every block with the frames it predicted over the batch (N · K · horizon in all),
    ``clip_progress(clips)`` after every batch."""
    import torch

    from sciffusion.domains.video.datamodule import to_uint8, to_unit_range
    from sciffusion.domains.video.sampling import rollout

    generator = torch.Generator().manual_seed(seed)
    n = len(context)
    prediction = np.empty((n, samples, horizon) + context.shape[2:], np.uint8)
    for first in range(0, n, batch_size):
        batch = to_unit_range(torch.from_numpy(np.ascontiguousarray(context[first:first + batch_size])))
        for k in range(samples):
            frames = rollout(model, batch, horizon, sampling, generator,
                             progress=None if frame_progress is None else lambda t: frame_progress(t * len(batch)))
            prediction[first:first + len(batch), k] = to_uint8(frames).numpy()
        if clip_progress is not None:
            clip_progress(len(batch))
    return prediction


def predict(cfg: PredictConfig, progress: Optional[Callable[[int], None]] = None,
            checked: Optional[Callable[[dict], None]] = None) -> dict:
    """Run the prediction and write the outputs; returns a summary dict. ``checked(notes)`` is called once the
    inputs are read and checked, before sampling, with the summary's notes (model, bundled, adapted,
    sampling_from_model, denoising_gain, unlike_training, frames_total: the frames the bar will count,
    clips_capped: a note when ``--clips`` asks for more clips than the input holds, else None), so a user sees
    them before waiting."""
    from sciffusion.domains.video import writers
    from sciffusion.domains.video.model import training_steps
    from sciffusion.domains.video.zarr_store import write_video_store

    outputs = [("--out", Path(cfg.out), False), ("--compare", cfg.compare_path, False),
               ("--out (settings)", Path(str(cfg.out) + ".json"), False)]
    check_outputs(outputs + ([("--store", Path(cfg.store), True)] if cfg.store else []), [cfg.input, cfg.run.model],
                  cfg.overwrite)  # a bundled model lies in the package, never under an output's .mp4/.gif/.zarr name
    default = bundled_model_for(cfg.input) if cfg.run.model is None else "smmnist"
    model, model_path = load_model(cfg.run, default)
    from sciffusion.domains.video.sampling import recommended_prediction

    run, from_model = cfg.run.with_model_defaults(recommended_prediction(model.meta, f"{model_path}: meta 'predict'"))
    m = model.config
    video, fps, is_store, adapted, refitted = read_clips(cfg.input, m.size, m.channels, cfg.clips)
    writers.check_frame_rate(fps, f"{cfg.input}: fps")
    n, t = video.shape[:2]
    if t < cfg.context:
        raise ValueError(f"{cfg.input}: {t} frames per clip, need at least --context {cfg.context}")
    if cfg.store is not None:
        if not is_store:
            raise ValueError("--store: needs a zarr --input (evaluate scores the prediction against it)")
        if refitted:
            raise ValueError(f"--store: the model predicts {m.size}x{m.size}x{m.channels} frames and {cfg.input} "
                             "holds others, so evaluate could not score it against the store; give a model of the "
                             "store's frames, or leave out --store")
        if t < cfg.context + cfg.frames:
            raise ValueError(f"{cfg.input}: {t} frames per clip, a prediction store needs context + frames = "
                             f"{cfg.context + cfg.frames}")
    window = m.past_frames + m.frames  # the check needs one model window: the context's, else the whole clips'
    gain = domain_check(model, video[:, :cfg.context] if cfg.context >= window else video)
    notes = {"adapted": adapted, "model": str(model_path), "bundled": cfg.run.model is None,
             "sampling_from_model": from_model, "denoising_gain": gain, "unlike_training": unlike_training(gain),
             "frames_total": n * cfg.samples * cfg.frames,
             "clips_capped": (f"--clips {cfg.clips}: {cfg.input} holds {n} clip(s), all {n} are predicted"
                              if cfg.clips is not None and cfg.clips > n else None)}
    if checked is not None:
        checked(notes)
    prediction = predict_clips(model, video[:, :cfg.context], cfg.frames, cfg.samples, run.sampling,
                               run.seed, run.batch_size, frame_progress=progress)
    truth = np.zeros((n, cfg.frames) + video.shape[2:], np.uint8)
    known = video[:, cfg.context:cfg.context + cfg.frames]
    truth[:, :known.shape[1]] = known
    shown = min(cfg.compare_clips, n)
    settings = {"command": "sciffusion video predict", "input": str(cfg.input), "context": cfg.context,
                "frames": cfg.frames, "samples": cfg.samples, "clips": n, "model_step": training_steps(model.meta),
                "arch": m.arch, "input_adapted": adapted, **run.to_dict(model_path),
                "sampling_from_model": from_model, "denoising_gain": gain}
    with contextlib.ExitStack() as outputs:  # every output written before any is moved into place: a failure
        def temporary(path: Path) -> Path:  # (say an unwritable --store folder) leaves none of them behind
            return outputs.enter_context(atomic_path(path, overwrite=cfg.overwrite))

        writers.write_video(temporary(cfg.out), np.concatenate([video[0, :cfg.context], prediction[0, 0]]), fps)
        writers.write_video(temporary(cfg.compare_path),
                            writers.comparison_frames(video[:shown, :cfg.context], prediction[:shown, 0],
                                                      truth[:shown]), fps)
        if cfg.store is not None:
            attrs = {"method": f"sciffusion-{m.arch}", "context": cfg.context, "horizon": cfg.frames,
                     "truth": str(cfg.input), "fps": fps, "samples": cfg.samples, "settings": settings}
            if cfg.clips is not None:  # evaluate scores the first n clips of the truth store, and says so
                attrs["first_clips"] = n
            write_video_store(temporary(cfg.store), prediction, attrs, kind="prediction")
        temporary(Path(str(cfg.out) + ".json")).write_text(json.dumps(settings, indent=1) + "\n")
    return {"clips": n, "samples": cfg.samples, "frames": cfg.frames, "out": str(cfg.out),
            "compare": str(cfg.compare_path), "store": None if cfg.store is None else str(cfg.store), **notes}


__all__ = ["PredictConfig", "adaptation_line", "bundled_model_for", "domain_check", "fit_store_frames", "predict",
           "predict_clips", "read_clips", "unlike_training"]
