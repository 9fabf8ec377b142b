"""Real footage in: a video file, a folder of frame images, or a folder of videos / frame folders ->
one zarr store of square clips (``video`` uint8 [N, T, S, S, C])."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sciffusion.common.io.atomic import atomic_path
from sciffusion.common.io.outputs import check_outputs, resolved
from sciffusion.common.io.images import image_files
from sciffusion.domains.video.image_sequence import DEFAULT_FRAME_RATE, Source, decode_source, find_sources
from sciffusion.domains.video.ingest import IngestConfig, split_clips, to_grey



@dataclass(frozen=True)
class IngestPipelineConfig:
    """source: a video file, a folder of frames, or a folder of videos and/or frame folders; out: new
    ``.zarr``; ingest: size, rate, clip length, fit, channels; frame_rate: the rate of frame folders."""

    source: Path
    out: Path
    ingest: IngestConfig
    overwrite: bool = False
    frame_rate: float = DEFAULT_FRAME_RATE

    def __post_init__(self) -> None:
        if Path(self.out).suffix != ".zarr":
            raise ValueError(f"--out: {self.out} should end in .zarr")
        if resolved(self.out) == resolved(self.source):
            raise ValueError(f"--out: {self.out} is the input file")
        if not 0 < self.frame_rate < math.inf:
            raise ValueError(f"--frame-rate: must be a finite number > 0, got {self.frame_rate}")


def _digest(source: Source) -> str:
    """sha256 of a video file, or of a frame folder's file names and bytes in order."""
    h = hashlib.sha256()
    for path in ([source.path] if source.kind == "video" else image_files(source.path)):
        if source.kind == "frames":
            h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


ARRAY_INPUTS = {".npz": "an .npz of arrays", ".npy": "a NumPy array file", ".zarr": "a zarr store"}


def refuse_arrays(source: Path) -> None:
    """One-line ``ValueError`` for a source that holds arrays, not footage: ingest decodes video files and
    frame images, while clips already in arrays go to the commands as they are."""
    kind = ARRAY_INPUTS.get(source.suffix.lower())
    if kind is not None and source.exists():
        raise ValueError(f"{source}: {kind}, not footage (ingest decodes video files and frame images); clips in "
                         "arrays need no ingest: video predict --input, video generate --context and ood read an "
                         ".npz of 'clips' or a zarr store as they are")


def ingest_video(cfg: IngestPipelineConfig, progress: Callable[[int], None] | None = None,
                 on_source: Callable[[int, int, str], None] | None = None) -> Path:
    """Decode every source under ``cfg.source`` and write ``cfg.out``: ``video`` uint8 [N, T, S, S, C],
    ``labels/source_frame`` int64 [N, T] (index of each frame in its source) and ``labels/source_index``
    int64 [N] (which source, in the order of the ``sources`` attr). Without ``clip_frames`` each source
    is one clip, so all must give the same number of frames. Nothing is written when any source fails.
    progress(n): n frames done; on_source(i, total, name): source i (0-based) starts."""
    from sciffusion.domains.video.zarr_store import write_video_store

    check_outputs([("--out", Path(cfg.out), True)], [cfg.source], cfg.overwrite)
    refuse_arrays(Path(cfg.source))
    sources = find_sources(cfg.source)
    clips, frames_of, index_of, infos = [], [], [], []
    for i, source in enumerate(sources):
        if on_source is not None:
            on_source(i, len(sources), source.name)
        decoded = decode_source(source, cfg.ingest, cfg.frame_rate, progress=progress)
        cut = split_clips(decoded.frames, cfg.ingest.clip_frames)
        if len(cut) == 0:
            raise ValueError(f"{source.path}: {len(decoded.frames)} frames, too few for one clip of "
                             f"{cfg.ingest.clip_frames}")
        if clips and cut.shape[1] != clips[0].shape[1]:
            raise ValueError(f"{source.path}: {cut.shape[1]} frames, {sources[0].name} has {clips[0].shape[1]}: "
                             "sources of different lengths need --clip-frames")
        if infos and decoded.fps != infos[0]["fps"]:
            raise ValueError(f"{source.path}: {decoded.fps:g} fps, {sources[0].name} has {infos[0]['fps']:g}: "
                             "pass --fps to bring every source to one rate")
        clips.append(cut)
        frames_of.append(split_clips(decoded.indices.reshape(-1, 1, 1, 1), cfg.ingest.clip_frames)[..., 0, 0, 0])
        index_of.append(np.full(len(cut), i, np.int64))
        infos.append({"name": source.name, "kind": source.kind, "sha256": _digest(source),
                      "source_fps": decoded.source_fps, "source_frames": decoded.source_frames,
                      "source_size_hw": list(decoded.source_size), "decoder": decoded.decoder, "fps": decoded.fps,
                      "clips": len(cut)})
    video = np.concatenate(clips)
    if cfg.ingest.channels == 1:
        video = to_grey(video)
    first = infos[0]
    resize = {"crop": "centre square crop", "stretch": "whole frame stretched to a square"}[cfg.ingest.fit]
    attrs = {"generator": "ingest", "source": Path(cfg.source).name, "source_sha256": first["sha256"],
             "source_fps": first["source_fps"], "source_frames": first["source_frames"],
             "source_size_hw": first["source_size_hw"], "decoder": first["decoder"], "fps": first["fps"],
             "size": cfg.ingest.size, "resize": f"{resize}, PIL bilinear", "channels": cfg.ingest.channels,
             "sources": infos}
    if any(s.kind == "frames" for s in sources):
        attrs["frame_rate"] = cfg.frame_rate
    labels = {"source_frame": np.concatenate(frames_of).astype(np.int64), "source_index": np.concatenate(index_of)}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        write_video_store(tmp, video, attrs, labels)
    return Path(cfg.out)
