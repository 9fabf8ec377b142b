"""The channel-stacking baseline (MCVD's "concat" architecture): frames as channels over the core's
2-D U-Net.

Past, current and future frames are stacked along channels, [B, C·(T_past + T + T_future) + 2, H, W]
(the two extra planes hold the past and future masks), and the U-Net outputs the C·T channels of the
current block. Frame counts are fixed by the configuration; frames are coupled by every layer.

Call: ``net(x_in [B, C, T, H, W], c_noise [B], cond: VideoCondition | None) -> [B, C, T, H, W]``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from sciffusion.common.networks.unet2d import UNet2D, UNet2DConfig
from sciffusion.domains.video.networks.condition import VideoCondition


@dataclass(frozen=True)
class ConcatUNetConfig:
    """channels: C per frame; past_frames / frames / future_frames: T_past, T, T_future (fixed);
    num_events: event classes (0: none); unet: the U-Net's widths and depth (its in/out channels and
    classes are set from the fields above)."""

    channels: int = 1
    past_frames: int = 2
    frames: int = 5
    future_frames: int = 0
    num_events: int = 0
    unet: UNet2DConfig = field(default_factory=lambda: UNet2DConfig(base_channels=32, channel_mults=(1, 2, 2),
                                                                     attention=(False, False, True)))

    def __post_init__(self) -> None:
        if self.channels < 1 or self.frames < 1 or self.past_frames < 0 or self.future_frames < 0:
            raise ValueError(f"frames: need channels, frames >= 1 and past/future >= 0, got "
                             f"({self.channels}, {self.past_frames}, {self.frames}, {self.future_frames})")
        if self.num_events < 0:
            raise ValueError(f"num_events: must be >= 0, got {self.num_events}")

    def unet_config(self) -> UNet2DConfig:
        c_in = self.channels * (self.past_frames + self.frames + self.future_frames) + 2
        return dataclasses.replace(self.unet, in_channels=c_in, out_channels=self.channels * self.frames,
                                   num_classes=self.num_events)


class ConcatUNet(nn.Module):
    """The baseline of the module docstring."""

    def __init__(self, config: ConcatUNetConfig = ConcatUNetConfig()):
        super().__init__()
        self.config = config
        self.unet = UNet2D(config.unet_config())

    def _block(self, cond: Optional[VideoCondition], name: str, frames: int, x: Tensor) -> tuple[Tensor, Tensor]:
        """(masked block as channels [B, C·frames, H, W], mask plane [B, 1, H, W])."""
        b, c, _, height, width = x.shape
        plane = torch.zeros(b, 1, height, width, dtype=x.dtype, device=x.device)
        if frames == 0:
            return x.new_zeros(b, 0, height, width), plane
        block = None if cond is None else getattr(cond, name)
        if block is None:
            return x.new_zeros(b, c * frames, height, width), plane
        if tuple(block.shape) != (b, c, frames, height, width):
            raise ValueError(f"cond.{name}: expected shape {(b, c, frames, height, width)}, got {tuple(block.shape)}")
        mask = cond.mask_of(name, b, x)[:, None, None, None]
        return (block.to(x.dtype).reshape(b, c * frames, height, width) * mask), plane + mask

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[VideoCondition] = None) -> Tensor:
        cfg = self.config
        if x.dim() != 5 or x.shape[1] != cfg.channels or x.shape[2] != cfg.frames:
            raise ValueError(f"x: expected [B, {cfg.channels}, {cfg.frames}, H, W], got {tuple(x.shape)}")
        b, c, t, height, width = x.shape
        past, past_plane = self._block(cond, "past", cfg.past_frames, x)
        future, future_plane = self._block(cond, "future", cfg.future_frames, x)
        stacked = torch.cat([past, x.reshape(b, c * t, height, width), future, past_plane, future_plane], dim=1)
        event = None if cond is None else cond.event
        out = self.unet(stacked, c_noise, event if cfg.num_events else None)
        return out.reshape(b, c, t, height, width)


__all__ = ["ConcatUNet", "ConcatUNetConfig"]
