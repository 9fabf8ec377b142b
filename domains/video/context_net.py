"""A video model as a *context denoiser*: the network that predicts the next frames from the frames before.

The core's predictive anomaly score (:mod:`~sciffusion.common.anomaly.predictive`) needs a network
called as ``net(x_target [B, C, K, H, W], c_noise [B], context [B, C, P, H, W])``: the preconditioned
noisy target frames, the noise embedding and the clean context frames. A video model of this domain
(:class:`~sciffusion.domains.video.model.VideoModelConfig`, ``spacetime`` or ``concat``) is the same
thing with a richer condition (:class:`~sciffusion.domains.video.networks.condition.VideoCondition`):
its past block is the context (P = ``past_frames``), its current block the target (K = ``frames``), a
future block (when the model has one) is masked, and an event label (when the model is
event-conditioned) is the null label −1, the one classifier-free guidance uses for "any event".
:class:`VideoContextNet` is that translation and nothing else; the weights are the video model's.

The ``features`` score needs the same weights as an unconditional denoiser of whole clips whose layers
it can read: :class:`VideoClipNet` (space-time U-Net only: it takes any number of frames; the concat
network's frame counts are fixed). Every frame of the clip is the current block, the past and future
blocks are absent and the event label is null. Its ``shallow_layer()`` sees the first encoder level
frame by frame, ``[B, D, T, h, w]`` (per-frame, per-position Gaussians,
:mod:`~sciffusion.common.anomaly.positional`), and its ``feature_layer()`` the bottleneck, same layout.
Measured on the driving benchmark (docs/ood.md, ninth round): the bundled driving model's first level
read this way scores AUROC 0.89 with no fine-tuning, the same architecture freshly initialised 0.67.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from sciffusion.domains.video.model import VideoModelConfig
from sciffusion.domains.video.networks.condition import VideoCondition


class VideoContextNet(nn.Module):
    """``net(x [B, C, K, H, W], c_noise [B], context [B, C, P, H, W]) -> [B, C, K, H, W]`` over a video
    network built from ``model`` (module docstring); ``net`` holds the video network (its weights load
    under the ``net.`` prefix)."""

    def __init__(self, model: VideoModelConfig):
        super().__init__()
        if model.past_frames < 1:
            raise ValueError("video model: has no past frames, so it cannot predict from context")
        self.model = model
        self.net = model.network()

    @property
    def context_frames(self) -> int:
        return self.model.past_frames

    @property
    def target_frames(self) -> int:
        return self.model.frames

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[Any] = None) -> Tensor:
        b, c, k, h, w = x.shape
        p = self.model.past_frames
        if not isinstance(cond, Tensor) or cond.shape != (b, c, p, h, w):
            got = tuple(cond.shape) if isinstance(cond, Tensor) else type(cond).__name__
            raise ValueError(f"context: need [{b}, {c}, {p}, {h}, {w}], got {got}")
        future = future_mask = None
        if self.model.future_frames:
            future = x.new_zeros(b, c, self.model.future_frames, h, w)
            future_mask = x.new_zeros(b)
        event = torch.full((b,), -1, dtype=torch.long, device=x.device) if self.model.events else None
        condition = VideoCondition(past=cond.to(x.dtype), future=future, past_mask=x.new_ones(b),
                                   future_mask=future_mask, event=event)
        return self.net(x, c_noise, condition)


def video_context_net(model: Mapping[str, Any]) -> VideoContextNet:
    """A fresh :class:`VideoContextNet` from a video model config dict (``VideoModelConfig.to_dict``)."""
    return VideoContextNet(VideoModelConfig.from_dict(model))


class VideoClipNet(nn.Module):
    """``net(x [B, C, T, H, W], c_noise [B], cond=None) -> [B, C, T, H, W]``: a space-time video model as
    an unconditional denoiser of whole clips of any T (module docstring); ``net`` holds the video network
    (its weights load under the ``net.`` prefix, as in :class:`VideoContextNet`). ``shallow_layer()`` and
    ``feature_layer()`` are identity taps that each forward call feeds with the first encoder level's and
    the bottleneck's output as ``[B, D, T, h, w]``."""

    def __init__(self, model: VideoModelConfig):
        super().__init__()
        if model.arch != "spacetime":
            raise ValueError(f"video model: the {model.arch} network has fixed frame counts, so it cannot "
                             "denoise whole clips (only the spacetime network can)")
        self.model = model
        self.net = model.network()
        self.shallow_tap, self.deep_tap = nn.Identity(), nn.Identity()

    def shallow_layer(self) -> nn.Module:
        return self.shallow_tap

    def feature_layer(self) -> nn.Module:
        return self.deep_tap

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[Any] = None) -> Tensor:
        if x.dim() != 5:
            raise ValueError(f"x: need clips [B, C, T, H, W], got {tuple(x.shape)}")
        b, t = x.shape[0], x.shape[2]
        event = torch.full((b,), -1, dtype=torch.long, device=x.device) if self.model.events else None
        outputs: dict[str, Tensor] = {}
        first = self.net.down[self.net.config.num_res_blocks - 1]  # the last block of the first level
        hooks = [first.register_forward_hook(lambda _m, _i, out: outputs.__setitem__("shallow", out)),
                 self.net.mid.register_forward_hook(lambda _m, _i, out: outputs.__setitem__("deep", out))]
        try:
            out = self.net(x, c_noise, VideoCondition(event=event))
        finally:
            for hook in hooks:
                hook.remove()
        for name, tap in (("shallow", self.shallow_tap), ("deep", self.deep_tap)):
            h = outputs[name]  # [B·T, D, h, w], frame-major within each clip
            tap(h.reshape(b, t, *h.shape[1:]).transpose(1, 2))
        return out


def video_clip_net(model: Mapping[str, Any]) -> VideoClipNet:
    """A fresh :class:`VideoClipNet` from a video model config dict (``VideoModelConfig.to_dict``)."""
    return VideoClipNet(VideoModelConfig.from_dict(model))


__all__ = ["VideoClipNet", "VideoContextNet", "video_clip_net", "video_context_net"]
