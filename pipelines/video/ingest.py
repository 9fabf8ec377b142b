"""Real footage in: one video file -> a zarr store of square clips."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sciffusion.common.io.atomic import atomic_path
from sciffusion.domains.video.ingest import IngestConfig, decode_video, split_clips


@dataclass(frozen=True)
class IngestPipelineConfig:
    source: Path
    out: Path
    ingest: IngestConfig
    overwrite: bool = False

    def __post_init__(self) -> None:
        if Path(self.out).suffix != ".zarr":
            raise ValueError(f"--out: {self.out} should end in .zarr")
        if Path(self.out).resolve() == Path(self.source).resolve():
            raise ValueError(f"--out: {self.out} is the input file")


def ingest_video(cfg: IngestPipelineConfig, progress: Callable[[int], None] | None = None) -> Path:
    """Decode ``cfg.source`` and write ``cfg.out`` (``video`` uint8 [N, T, S, S, 3], ``labels/source_frame``
    int64 [N, T] = index of each frame in the source). Nothing is written when decoding fails."""
    from sciffusion.domains.video.zarr_store import write_video_store

    decoded = decode_video(cfg.source, cfg.ingest, progress=progress)
    clips = split_clips(decoded.frames, cfg.ingest.clip_frames)
    if len(clips) == 0:
        raise ValueError(f"{cfg.source}: {len(decoded.frames)} frames, too few for one clip of {cfg.ingest.clip_frames}")
    source_frame = split_clips(decoded.indices.reshape(-1, 1, 1, 1), cfg.ingest.clip_frames)[..., 0, 0, 0]
    digest = hashlib.sha256(Path(cfg.source).read_bytes()).hexdigest()
    attrs = {"generator": "ingest", "source": Path(cfg.source).name, "source_sha256": digest,
             "source_fps": decoded.source_fps, "source_frames": decoded.source_frames,
             "source_size_hw": list(decoded.source_size), "decoder": decoded.decoder, "fps": decoded.fps,
             "size": cfg.ingest.size, "resize": "centre square crop, PIL bilinear"}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        write_video_store(tmp, clips, attrs, {"source_frame": source_frame})
    return Path(cfg.out)
