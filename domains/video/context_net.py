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


__all__ = ["VideoContextNet", "video_context_net"]
