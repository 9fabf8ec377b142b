"""A noise-conditional event classifier of video blocks, for classifier guidance of generation.

It reads what the denoiser reads, the noisy block at σ and the clean past block (or its mask), and
returns logits over :data:`~sciffusion.domains.video.events.EVENTS`; trained by the core's
:class:`~sciffusion.common.training.classifier_module.NoisyClassifierModule` on σ-noised blocks of
labelled driving windows, its ∇ log p_σ(event | x) steers the video denoiser
(:func:`~sciffusion.common.guidance.gradient.classifier_guidance`). It is part of the generator, not a
judge: the rare-event fidelity benchmark's classifier (:mod:`sciffusion.pipelines.bench.event_classifier`)
is a separate network trained separately on clean windows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.networks.blocks import FourierEmbedding
from sciffusion.domains.video.networks.condition import VideoCondition


@dataclass(frozen=True)
class EventClassifierNetConfig:
    """channels: frame channels C; past_frames / frames: T_past and T of the windows (as the video
    model's); classes: number of events; width: channels of the first conv block (then 2×, 4×, 4×);
    embed_dim: σ embedding width."""

    channels: int = 3
    past_frames: int = 2
    frames: int = 4
    classes: int = 4
    width: int = 24
    embed_dim: int = 64

    def __post_init__(self) -> None:
        if min(self.channels, self.frames, self.classes, self.width, self.embed_dim) < 1 or self.past_frames < 0:
            raise ValueError(f"event classifier: sizes must be >= 1 (past_frames >= 0), got {self}")
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim: must be even, got {self.embed_dim}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EventClassifierNetConfig":
        return cls(**dict(d))


class NoisyEventClassifier(nn.Module):
    """Past and noisy block joined along time, with a role channel (+1 visible past frame, 0 masked past,
    −1 noisy frame), through four Conv3d blocks (kernel 3; stride 2 in H, W; 2 in T in the last two),
    GroupNorm, a σ FiLM (scale, shift) per block and SiLU; global average pool, linear head.

    Shapes: ``forward(x_in [B, C, T, H, W], c_noise [B], cond)`` → logits [B, classes]; ``cond`` a
    :class:`VideoCondition` with ``past`` [B, C, T_past, H, W] and ``past_mask`` [B] (its event is
    ignored), or None (no past: masked)."""

    def __init__(self, config: EventClassifierNetConfig = EventClassifierNetConfig()):
        super().__init__()
        self.config = c = config
        chans = [c.channels + 1, c.width, 2 * c.width, 4 * c.width, 4 * c.width]
        strides = [(1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)]
        self.embed = nn.Sequential(FourierEmbedding(c.embed_dim, 1.0), nn.Linear(c.embed_dim, c.embed_dim), nn.SiLU())
        self.convs = nn.ModuleList(nn.Conv3d(i, o, 3, stride=s, padding=1) for i, o, s in zip(chans[:-1], chans[1:], strides))
        self.norms = nn.ModuleList(nn.GroupNorm(min(8, o), o) for o in chans[1:])
        self.films = nn.ModuleList(nn.Linear(c.embed_dim, 2 * o) for o in chans[1:])
        self.head = nn.Linear(chans[-1], c.classes)

    def forward(self, x_in: Tensor, c_noise: Tensor, cond: Optional[VideoCondition] = None) -> Tensor:
        b, ch, t, h, w = x_in.shape
        parts, roles = [], []
        if self.config.past_frames:
            past = cond.past if cond is not None and cond.past is not None else None
            if past is None:
                past, mask = x_in.new_zeros(b, ch, self.config.past_frames, h, w), x_in.new_zeros(b)
            else:
                mask = cond.mask_of("past", b, x_in)
            mask5 = mask.reshape(b, 1, 1, 1, 1)
            parts.append(past.to(x_in.dtype) * mask5)
            roles.append(mask5.expand(b, 1, past.shape[2], h, w))
        parts.append(x_in)
        roles.append(x_in.new_full((b, 1, t, h, w), -1.0))
        z = torch.cat([torch.cat(parts, dim=2), torch.cat(roles, dim=2)], dim=1)
        emb = self.embed(c_noise.to(x_in.dtype).expand(b))
        for conv, norm, film in zip(self.convs, self.norms, self.films):
            scale, shift = film(emb).chunk(2, dim=1)
            z = norm(conv(z))
            z = torch.nn.functional.silu(z * (1 + scale[:, :, None, None, None]) + shift[:, :, None, None, None])
        return self.head(z.mean(dim=(2, 3, 4)))


__all__ = ["EventClassifierNetConfig", "NoisyEventClassifier"]
