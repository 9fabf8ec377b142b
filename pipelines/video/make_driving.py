"""Generate the synthetic driving set (highway-env) into a zarr store, with rare-event labels."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from sciffusion.common.io.atomic import atomic_path
from sciffusion.domains.video.datasets.driving import DrivingConfig, class_balance, generate_driving


SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class MakeDrivingConfig:
    out: Path
    data: DrivingConfig
    overwrite: bool = False
    split: Optional[str] = None  # recorded as attr 'split' (train | val | test); None: not recorded

    def __post_init__(self) -> None:
        if Path(self.out).suffix != ".zarr":
            raise ValueError(f"--out: {self.out} should end in .zarr")
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"--split: must be one of {', '.join(SPLITS)}, got {self.split!r}")


def make_driving(cfg: MakeDrivingConfig, progress: Callable[[int], None] | None = None
                 ) -> tuple[Path, dict[str, dict[str, float]]]:
    """Write ``cfg.out`` (``video`` uint8 [N, T, S, S, 3], ``labels/<event>`` uint8 [N, T],
    ``labels/episode``, ``labels/start_frame``); returns the path and the class balance (also in attrs)."""
    from sciffusion.domains.video.zarr_store import write_video_store

    video, labels = generate_driving(cfg.data, progress)
    balance = class_balance(labels)
    d = cfg.data
    attrs = {"generator": "highway-env highway-v0, IDM/MOBIL ego with seeded perturbations",
             "seed": d.seed, "fps": float(d.fps), "size": d.size, "episodes": d.episodes,
             "clip_frames": d.clip_frames, "clips_per_episode": d.clips_per_episode, "perturb": d.perturb,
             "vehicles": d.vehicles, "lanes": d.lanes, "class_balance": balance}
    if cfg.split is not None:  # bench commands refuse a train store, video train a test store
        attrs["split"] = cfg.split
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        write_video_store(tmp, video, attrs, labels)
    return Path(cfg.out), balance
