"""Temporal layers of the factorized space-time U-Net: the only layers that mix frames.

Both act on frame-folded features ``h [B·L, C, H, W]`` (L frames per clip, B clips) and return the same
shape; they reshape to one sequence of L frames per pixel, ``[B·H·W, C, L]``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def to_sequences(h: Tensor, frames: int) -> Tensor:
    """[B·L, C, H, W] → [B·H·W, L, C]."""
    bl, c, height, width = h.shape
    return h.reshape(bl // frames, frames, c, height, width).permute(0, 3, 4, 1, 2).reshape(-1, frames, c)


def from_sequences(s: Tensor, height: int, width: int) -> Tensor:
    """[B·H·W, L, C] → [B·L, C, H, W] (inverse of :func:`to_sequences`)."""
    n, frames, c = s.shape
    b = n // (height * width)
    return s.reshape(b, height, width, frames, c).permute(0, 3, 4, 1, 2).reshape(b * frames, c, height, width)


class TemporalConv(nn.Module):
    """Residual GN → SiLU → Conv1d(kernel 3, zero padding) along time, per pixel. Zero padding makes
    it aware of the clip's ends (the only absolute time information in the network)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.conv = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, h: Tensor, frames: int) -> Tensor:
        height, width = h.shape[-2:]
        s = to_sequences(h, frames).transpose(1, 2)  # [BHW, C, L]
        s = self.conv(F.silu(self.norm(s)))
        return h + from_sequences(s.transpose(1, 2), height, width)


class TemporalAttention(nn.Module):
    """Residual multi-head self-attention over the L frames of each pixel, with a learned bias per
    head and relative frame offset (clipped to ±``max_offset``), so the layer knows frame order."""

    def __init__(self, channels: int, groups: int, heads: int, max_offset: int = 16):
        super().__init__()
        if channels % heads:
            raise ValueError(f"heads: {heads} must divide the channel count {channels}")
        self.heads, self.max_offset = heads, max_offset
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.offset_bias = nn.Parameter(torch.zeros(heads, 2 * max_offset + 1))

    def forward(self, h: Tensor, frames: int) -> Tensor:
        height, width = h.shape[-2:]
        s = to_sequences(self.norm(h), frames)  # [N, L, C]
        n, length, c = s.shape
        q, k, v = self.qkv(s).reshape(n, length, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        pos = torch.arange(length, device=h.device)
        offset = (pos[None, :] - pos[:, None]).clamp(-self.max_offset, self.max_offset) + self.max_offset
        bias = self.offset_bias[:, offset].to(q.dtype)  # [heads, L, L]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # [N, heads, L, C/heads]
        out = self.proj(out.transpose(1, 2).reshape(n, length, c))
        return h + from_sequences(out, height, width)


__all__ = ["TemporalAttention", "TemporalConv", "from_sequences", "to_sequences"]
