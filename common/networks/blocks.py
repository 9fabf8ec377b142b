"""Network blocks shared by the image and video U-Nets.

All blocks act on 2-D feature maps ``[B, C, H, W]``; a video network applies them frame by frame by
folding time into the batch (``[B, C, T, H, W]`` → ``[B·T, C, H, W]``) and repeating the per-sample
embedding T times.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


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


class LabelEmbedding(nn.Embedding):
    """Integer class labels [B] → [B, dim]; a negative label means "no label" and embeds to zeros
    (the null condition of classifier-free guidance, see ``DiffusionModule``'s condition dropout)."""

    def forward(self, labels: Tensor) -> Tensor:
        labels = labels.long()
        known = labels >= 0
        return super().forward(labels.clamp(min=0)) * known[:, None].to(self.weight.dtype)


class ResBlock(nn.Module):
    """GN → SiLU → conv3 → + Linear(emb) → GN → SiLU → dropout → conv3, plus a (1×1) skip.

    x: [B, c_in, H, W]; emb: [B, emb_dim] → [B, c_out, H, W].
    """

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
    """Single-head self-attention over the H·W positions of each map, residual. [B, C, H, W] → same."""

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


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["FourierEmbedding", "LabelEmbedding", "ResBlock", "SelfAttention", "count_parameters"]
