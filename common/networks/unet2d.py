"""A compact 2-D U-Net for image denoisers: residual blocks with GroupNorm, a Fourier embedding of
the noise conditioning c_noise, optional self-attention at chosen resolutions, optional class labels.

Call signature (the :class:`~sciffusion.common.training.DiffusionModule` contract):
``net(x_in [B, C, H, W], c_noise [B], cond) -> [B, C_out, H, W]`` (C_out = ``out_channels``, by
default C), with ``cond`` None or integer class labels ``[B]`` when ``num_classes > 0`` (a negative
label means "no label": the null condition of classifier-free guidance). H and W must be divisible by 2^(levels − 1)
(28 × 28 works with three levels: 28 → 14 → 7).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.networks.blocks import FourierEmbedding, LabelEmbedding, ResBlock, SelfAttention, \
    count_parameters


@dataclass(frozen=True)
class UNet2DConfig:
    """``out_channels`` (None: ``in_channels``) is the head's width. Channels per level =
    ``base_channels × channel_mults[i]``; ``num_res_blocks`` per level;
    ``attention`` one flag per level; ``fourier_scale`` the std of the random Fourier frequencies
    applied to c_noise (≈ ln σ / 4, order 1)."""

    in_channels: int = 1
    out_channels: Optional[int] = None
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 2
    attention: tuple[bool, ...] = (False, False, True)
    groups: int = 8
    embed_dim: int = 128
    fourier_scale: float = 16.0
    dropout: float = 0.0
    num_classes: int = 0

    @property
    def head_channels(self) -> int:
        """Output channels: ``out_channels``, or ``in_channels`` when None."""
        return self.in_channels if self.out_channels is None else self.out_channels

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.base_channels < 1:
            raise ValueError(f"channels: in_channels and base_channels must be >= 1, got ({self.in_channels}, {self.base_channels})")
        if self.out_channels is not None and self.out_channels < 1:
            raise ValueError(f"out_channels: must be >= 1 or None (= in_channels), got {self.out_channels}")
        if not self.channel_mults or any(m < 1 for m in self.channel_mults):
            raise ValueError(f"channel_mults: need positive entries, got {self.channel_mults}")
        if len(self.attention) != len(self.channel_mults):
            raise ValueError(f"attention: need one flag per level ({len(self.channel_mults)}), got {len(self.attention)}")
        if self.num_res_blocks < 1:
            raise ValueError(f"num_res_blocks: must be >= 1, got {self.num_res_blocks}")
        if any((self.base_channels * m) % self.groups for m in self.channel_mults):
            raise ValueError(f"groups: {self.groups} must divide every level's channel count")
        if self.embed_dim < 2 or self.embed_dim % 2:
            raise ValueError(f"embed_dim: must be even and >= 2, got {self.embed_dim}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes: must be >= 0, got {self.num_classes}")


class UNet2D(nn.Module):
    """The U-Net of the module docstring. Skip connections concatenate encoder features."""

    def __init__(self, config: UNet2DConfig = UNet2DConfig()):
        super().__init__()
        self.config = c = config
        e = c.embed_dim
        self.fourier = FourierEmbedding(e, c.fourier_scale)
        self.embed = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        self.label = LabelEmbedding(c.num_classes, e) if c.num_classes else None
        chans = [c.base_channels * m for m in c.channel_mults]
        self.stem = nn.Conv2d(c.in_channels, chans[0], 3, padding=1)

        self.down = nn.ModuleList()
        skips, ch = [chans[0]], chans[0]
        for level, (co, attn) in enumerate(zip(chans, c.attention)):
            for _ in range(c.num_res_blocks):
                self.down.append(nn.ModuleList([ResBlock(ch, co, e, c.groups, c.dropout),
                                                SelfAttention(co, c.groups) if attn else nn.Identity()]))
                ch = co
                skips.append(ch)
            if level < len(chans) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, e, c.groups, c.dropout), SelfAttention(ch, c.groups),
                                  ResBlock(ch, ch, e, c.groups, c.dropout)])
        self.up = nn.ModuleList()
        for level in reversed(range(len(chans))):
            co, attn = chans[level], c.attention[level]
            for _ in range(c.num_res_blocks + 1):
                self.up.append(nn.ModuleList([ResBlock(ch + skips.pop(), co, e, c.groups, c.dropout),
                                              SelfAttention(co, c.groups) if attn else nn.Identity()]))
                ch = co
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(ch, ch, 3, padding=1)))
        self.head = nn.Sequential(nn.GroupNorm(c.groups, ch), nn.SiLU(), nn.Conv2d(ch, c.head_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[Any] = None) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"x: expected [B, {self.config.in_channels}, H, W], got {tuple(x.shape)}")
        emb = self.embed(self.fourier(c_noise.reshape(-1).expand(len(x))).to(x.dtype))
        if self.label is not None and cond is not None:
            emb = emb + self.label(cond)
        h = self.stem(x)
        hs = [h]
        for block in self.down:
            if isinstance(block, nn.ModuleList):
                h = block[1](block[0](h, emb))
            else:
                h = block(h)
            hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
        for block in self.up:
            if isinstance(block, nn.ModuleList):
                h = block[1](block[0](torch.cat([h, hs.pop()], dim=1), emb))
            else:
                h = block(h)
        return self.head(h)


__all__ = ["UNet2D", "UNet2DConfig", "count_parameters"]
