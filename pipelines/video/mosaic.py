"""Image mosaics of context | prediction | truth, from a prediction store and its truth store."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sciffusion.common.io.atomic import atomic_path
from sciffusion.common.io.outputs import check_outputs

SUFFIXES = (".png", ".gif", ".mp4")


@dataclass(frozen=True)
class MosaicConfig:
    """A mosaic of the first ``clips`` clips (one row each), still (.png) or animated (.gif, .mp4)."""

    pred: Path
    truth: Path
    out: Path
    clips: int = 4
    overwrite: bool = False

    def __post_init__(self) -> None:
        if Path(self.out).suffix.lower() not in SUFFIXES:
            raise ValueError(f"--out: {self.out} must end in one of {SUFFIXES}")
        if self.clips < 1:
            raise ValueError(f"--clips: must be >= 1, got {self.clips}")


def write_mosaic(cfg: MosaicConfig) -> Path:
    """PNG: still strips (context|prediction over context|truth) per clip; GIF/MP4: animated
    context | prediction | truth panels, one row per clip. Uses sample 0 of each prediction."""
    from sciffusion.domains.video import writers
    from sciffusion.pipelines.video.evaluate import load_pair

    check_outputs([("--out", Path(cfg.out), False)], [cfg.pred, cfg.truth], cfg.overwrite)
    pair = load_pair(Path(cfg.pred), Path(cfg.truth))
    if Path(cfg.out).suffix.lower() != ".png":
        writers.check_frame_rate(pair.fps, f"{cfg.truth}: fps")
    n = min(cfg.clips, len(pair.prediction))
    pred, fut, ctx = pair.prediction[:n, 0], pair.future[:n], pair.context[:n]
    suffix = Path(cfg.out).suffix.lower()
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        if suffix == ".png":
            writers.write_png(tmp, writers.comparison_still(ctx, pred, fut))
        else:
            writers.write_video(tmp, writers.comparison_frames(ctx, pred, fut), pair.fps)
    return Path(cfg.out)
