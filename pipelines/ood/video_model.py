"""The video domain's models as a detector's context denoiser: ``sciffusion ood fit --model video.pt``.

A video model file (``sciffusion video train``'s ``model.ckpt``, or the bundled
``domains/video/data/video_*.pt``) predicts ``frames`` K frames from ``past_frames`` P frames before them,
which is what the ``predictive`` score needs (:mod:`~sciffusion.common.anomaly.predictive`). This
module registers the builder ``video`` with the core (:func:`~sciffusion.common.anomaly.networks.register_network`:
the core never imports a domain) and turns a model file into a starting point for a detector
(:class:`~sciffusion.pipelines.ood.fit.Start`): the network config (external ``video``, P context and K
target frames, the model config), its EMA weights and its training config (preconditioning: loss kind,
σ_data; learning rate, warm-up, EMA). The predictive members of the detector then take the model's P and
K and its training config (:func:`~sciffusion.pipelines.ood.fit.adopt_start`); the ``features`` members
take the same weights as a denoiser of whole clips (space-time models only: the builder's unconditional
form, :class:`~sciffusion.domains.video.context_net.VideoClipNet`; a concat model's features member
trains its own network). ``--minutes`` fine-tunes each copy on the normal clips at the model's own
learning rate (``--max-steps 1`` scores with the model almost as trained).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from sciffusion.common.anomaly.networks import DenoiserNetConfig, register_network

EXTERNAL_VIDEO = "video"


def build_video_network(config: DenoiserNetConfig) -> nn.Module:
    """A fresh :class:`~sciffusion.domains.video.context_net.VideoContextNet` for ``config`` (external
    ``video``), whose context and target frames must be the model's; with ``context_frames`` 0 a
    :class:`~sciffusion.domains.video.context_net.VideoClipNet` (the same weights as a denoiser of whole
    clips, for the ``features`` score; space-time models only)."""
    from sciffusion.domains.video.context_net import video_clip_net, video_context_net

    if config.context_frames == 0:
        return video_clip_net(config.external_config)
    net = video_context_net(config.external_config)
    if (config.context_frames, config.target_frames) != (net.context_frames, net.target_frames):
        raise ValueError(f"video model: predicts {net.target_frames} frames from {net.context_frames}, the detector "
                         f"asks for {config.target_frames} from {config.context_frames}")
    return net


register_network(EXTERNAL_VIDEO, build_video_network)


def is_video_model_file(content: Any) -> bool:
    from sciffusion.domains.video.model import FILE_KIND

    return isinstance(content, dict) and content.get("kind") == FILE_KIND


def video_start(path: Path, sample_shape: tuple[int, ...]):
    """(network config, weights, preconditioning) of a detector that starts from the video model file
    ``path`` for inputs of ``sample_shape`` ``[C, T, H, W]``; one-line ValueErrors naming ``path`` when the
    model cannot score such clips (not clips, other channels, too few frames, a frame size it cannot run)."""
    from sciffusion.domains.video.model import read_model_file
    from sciffusion.pipelines.ood.fit import Start

    loaded = read_model_file(path)
    cfg = loaded.config
    if len(sample_shape) != 4:
        raise ValueError(f"{path}: a video model scores clips [N, T, H, W(, C)], the data has inputs of shape "
                         f"{list(sample_shape)}")
    c, t, h, w = sample_shape
    if c != cfg.channels:
        raise ValueError(f"{path}: the video model has {cfg.channels}-channel frames, the clips have {c}")
    if t < cfg.past_frames + cfg.frames:
        raise ValueError(f"{path}: the video model predicts {cfg.frames} frames from {cfg.past_frames}, so it needs "
                         f"clips of at least {cfg.past_frames + cfg.frames} frames; the clips have {t}")
    net_config = DenoiserNetConfig(tuple(sample_shape), context_frames=cfg.past_frames, target_frames=cfg.frames,
                                   external=EXTERNAL_VIDEO, external_config=cfg.to_dict())
    net = net_config.build()
    state = {f"net.{k}": v for k, v in loaded.net.state_dict().items()}
    net.load_state_dict(state)
    try:  # one window of zeros: a frame size the network cannot run fails here, not after training
        with torch.no_grad():
            net(torch.zeros(1, c, cfg.frames, h, w), torch.zeros(1), torch.zeros(1, c, cfg.past_frames, h, w))
    except (RuntimeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise ValueError(f"{path}: the video model cannot run on {h}x{w} frames ({detail})") from None
    return Start(net_config, state, loaded.train)


__all__ = ["EXTERNAL_VIDEO", "build_video_network", "is_video_model_file", "video_start"]
