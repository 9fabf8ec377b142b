"""A compact 2-D U-Net for image denoisers: residual blocks with GroupNorm, a Fourier embedding of
the noise conditioning c_noise, optional self-attention at chosen resolutions, optional class labels.

Call signature (the :class:`~sciffusion.common.training.DiffusionModule` contract):
``net(x_in [B, C, H, W], c_noise [B], cond) -> [B, C, H, W]``, with ``cond`` None or integer class
labels ``[B]`` when ``num_classes > 0``. H and W must be divisible by 2^(levels − 1)
(28 × 28 works with three levels: 28 → 14 → 7).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass(frozen=True)
class UNet2DConfig:
    """Channels per level = ``base_channels × channel_mults[i]``; ``num_res_blocks`` per level;
    ``attention`` one flag per level; ``fourier_scale`` the std of the random Fourier frequencies
    applied to c_noise (≈ ln σ / 4, order 1)."""

    in_channels: int = 1
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 2
    attention: tuple[bool, ...] = (False, False, True)
    groups: int = 8
    embed_dim: int = 128
    fourier_scale: float = 16.0
    dropout: float = 0.0
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.base_channels < 1:
            raise ValueError(f"channels: in_channels and base_channels must be >= 1, got ({self.in_channels}, {self.base_channels})")
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


class FourierEmbedding(nn.Module):
    """[B] scalars → [B, dim] features [cos(2π f c), sin(2π f c)] with fixed frequencies f ~ N(0, scale²)
    (drawn from a local generator, seed 0, so construction does not touch the global RNG)."""

    def __init__(self, dim: int, scale: float):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("freqs", torch.randn(dim // 2, generator=g) * scale)

    def forward(self, c: Tensor) -> Tensor:
        arg = 2 * math.pi * c[:, None].to(self.freqs.dtype) * self.freqs[None]
        return torch.cat([arg.cos(), arg.sin()], dim=1)


class ResBlock(nn.Module):
    """GN → SiLU → conv3 → + Linear(emb) → GN → SiLU → dropout → conv3, plus a (1×1) skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the H·W positions, residual."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # [B, HW, C]
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet2D(nn.Module):
    """The U-Net of the module docstring. Skip connections concatenate encoder features."""

    def __init__(self, config: UNet2DConfig = UNet2DConfig()):
        super().__init__()
        self.config = c = config
        e = c.embed_dim
        self.fourier = FourierEmbedding(e, c.fourier_scale)
        self.embed = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        self.label = nn.Embedding(c.num_classes, e) if c.num_classes else None
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
        self.head = nn.Sequential(nn.GroupNorm(c.groups, ch), nn.SiLU(), nn.Conv2d(ch, c.in_channels, 3, padding=1))
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


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["FourierEmbedding", "ResBlock", "SelfAttention", "UNet2D", "UNet2DConfig", "count_parameters"]
