"""Test helpers of the video domain: a tiny randomly initialised model file (what `video train` writes),
small enough for unit tests of predict, generate and the benchmarks."""
from __future__ import annotations

from pathlib import Path

TINY_MODEL = dict(size=16, base_channels=8, channel_mults=(1, 2), spatial_attention=(False, False),
                  temporal_attention=(False, True), heads=2, groups=4, embed_dim=16, past_frames=2, frames=3)
"""A 16×16, two-level space-time U-Net configuration (2 past → 3 current frames)."""


def write_tiny_model(path: Path | str, **overrides) -> Path:
    """Write a model file of :data:`TINY_MODEL` (with ``overrides``, e.g. ``arch="concat"``, ``channels=3``,
    ``events=True``) to ``path``: seeded weights, the zero-initialised output head drawn from N(0, 0.1²)
    so the network's output depends on its input. Returns ``path``."""
    import torch

    from sciffusion.common.training.config import TrainConfig
    from sciffusion.domains.video.model import VideoModelConfig, model_file

    cfg = VideoModelConfig(**{**TINY_MODEL, **overrides})
    torch.manual_seed(0)
    net = cfg.network()
    head = net.head[-1] if cfg.arch == "spacetime" else net.unet.head[-1]
    torch.nn.init.normal_(head.weight, std=0.1)
    torch.save(model_file(net, cfg, TrainConfig().to_dict(), {"step": 0}), path)
    return Path(path)


__all__ = ["TINY_MODEL", "write_tiny_model"]
