"""``sciffusion video generate``: new clips from nothing, optionally of a chosen driving event.

The first block is sampled with the past masked (unconditional in the frames), the rest autoregressively
(:func:`~sciffusion.domains.video.sampling.rollout`); with ``event`` every block is conditioned on that
event and guided by classifier-free guidance (``run.sampling.guidance``, σ interval optional).

Outputs in ``out/`` (the folder is written atomically): ``clip_000.mp4`` and ``clip_000.gif`` per clip,
``contact_sheet.png`` (one row per clip, one column per frame), ``clips.zarr`` (a dataset store,
``video`` uint8 [N, T, H, W, C], ``labels/event`` int64 [N] when an event was asked for) and
``config.json`` (the resolved settings).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from sciffusion.common.io.atomic import atomic_path, refuse_existing
from sciffusion.pipelines.video.sampling_run import SamplingRun, load_model


@dataclass(frozen=True)
class GenerateConfig:
    out: Path
    run: SamplingRun = field(default_factory=SamplingRun)
    event: Optional[str] = None
    clips: int = 4
    frames: int = 10
    fps: float = 10.0
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise ValueError(f"--clips: must be >= 1, got {self.clips}")
        if self.frames < 1:
            raise ValueError(f"--frames: must be >= 1, got {self.frames}")
        if not self.fps > 0:
            raise ValueError(f"--fps: must be > 0, got {self.fps}")
        if self.event is not None:
            from sciffusion.domains.video.events import event_index

            event_index(self.event)  # a bad name is an error before any work


def generate(cfg: GenerateConfig, progress: Optional[Callable[[int], None]] = None) -> dict:
    """Generate ``cfg.clips`` clips of ``cfg.frames`` frames into ``cfg.out``; returns a summary dict."""
    import torch

    from sciffusion.domains.video import writers
    from sciffusion.domains.video.datamodule import to_uint8
    from sciffusion.domains.video.events import EVENTS, event_index
    from sciffusion.domains.video.sampling import rollout
    from sciffusion.domains.video.zarr_store import write_video_store

    refuse_existing(Path(cfg.out), cfg.overwrite, "output folder")
    model, model_path = load_model(cfg.run, default="smmnist" if cfg.event is None else "driving")
    m = model.config
    label = None if cfg.event is None else event_index(cfg.event)
    generator = torch.Generator().manual_seed(cfg.run.seed)
    clips = np.empty((cfg.clips, cfg.frames, m.size, m.size, m.channels), np.uint8)
    for first in range(0, cfg.clips, cfg.run.batch_size):
        b = min(cfg.run.batch_size, cfg.clips - first)
        empty = torch.zeros(b, m.channels, 0, m.size, m.size)
        event = None if label is None else torch.full((b,), label, dtype=torch.long)
        frames = rollout(model, empty, cfg.frames, cfg.run.sampling, generator, event=event, progress=progress)
        clips[first:first + b] = to_uint8(frames).numpy()
    settings = {"command": "sciffusion video generate", "event": None if label is None else EVENTS[label],
                "clips": cfg.clips, "frames": cfg.frames, "fps": cfg.fps, "arch": m.arch,
                "model_step": model.meta.get("step"), **cfg.run.to_dict(model_path)}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        for i, clip in enumerate(clips):
            writers.write_mp4(tmp / f"clip_{i:03d}.mp4", clip, cfg.fps)
            writers.write_gif(tmp / f"clip_{i:03d}.gif", clip, cfg.fps)
        writers.write_png(tmp / "contact_sheet.png", writers.contact_sheet(clips))
        labels = None if label is None else {"event": np.full(cfg.clips, label, np.int64)}
        write_video_store(tmp / "clips.zarr", clips, {"generator": "sciffusion video generate", "fps": cfg.fps,
                                                      "settings": settings}, labels)
        (tmp / "config.json").write_text(json.dumps(settings, indent=1) + "\n")
    return {"clips": cfg.clips, "frames": cfg.frames, "out": str(cfg.out), "event": settings["event"]}


__all__ = ["GenerateConfig", "generate"]
