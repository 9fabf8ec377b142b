"""Run a deterministic baseline (copy-last, linear) over a data store -> a prediction store."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sciffusion.common.io.atomic import atomic_path
from sciffusion.domains.video.baselines import METHODS, predict
from sciffusion.common.io.outputs import check_outputs, resolved


@dataclass(frozen=True)
class BaselineConfig:
    data: Path
    out: Path
    context: int = 10
    horizon: int = 10
    method: str = "copy-last"
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.context < 1:
            raise ValueError(f"--context: must be >= 1, got {self.context}")
        if self.horizon < 1:
            raise ValueError(f"--horizon: must be >= 1, got {self.horizon}")
        if self.method not in METHODS:
            raise ValueError(f"--method: must be one of {METHODS}, got {self.method!r}")
        if Path(self.out).suffix != ".zarr":
            raise ValueError(f"--out: {self.out} should end in .zarr")
        if resolved(self.out) == resolved(self.data):
            raise ValueError(f"--out: {self.out} would overwrite the input store")


def run_baseline(cfg: BaselineConfig) -> Path:
    """Write ``cfg.out``: ``video`` uint8 [N, 1, horizon, H, W, C] predicted from frames [0, context)."""
    from sciffusion.domains.video.zarr_store import open_video_store, write_video_store

    check_outputs([("--out", Path(cfg.out), True)], [cfg.data], cfg.overwrite)
    store = open_video_store(cfg.data, kind="dataset")
    t = store.video.shape[1]
    if t < cfg.context + cfg.horizon:
        raise ValueError(f"{cfg.data}: {t} frames per clip, need context + horizon = {cfg.context + cfg.horizon}")
    context = store.video[:, : cfg.context]
    prediction = predict(context, cfg.horizon, cfg.method)[:, None]
    attrs = {"method": cfg.method, "context": cfg.context, "horizon": cfg.horizon, "truth": str(cfg.data),
             "fps": store.fps, "samples": 1}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        write_video_store(tmp, prediction, attrs, kind="prediction")
    return Path(cfg.out)
