"""Uniform dequantisation of 8-bit data and the nats → bits/dim conversion.

Convention (the usual one for images scaled to [−1, 1]): an 8-bit value k ∈ {0, …, 255} becomes
the continuous y = k + u, u ~ U[0, 1), and the model sees x = y / 127.5 − 1 (so k = 0 → −1 and
k = 255 → 1 before the noise). With uniform dequantisation, −E_u[log p_y(k + u)] upper-bounds the
discrete negative log-likelihood −log P(k) (Theis et al. 2016). The density of y is that of x times
the Jacobian of x = y/127.5 − 1, |dx/dy|^D = 127.5^{−D}, so

    −log p_y(y) = −log p_x(x) + D · log(127.5)        (nats)
    bpd         = (−log p_x(x) + D · log(127.5)) / (D · ln 2).

The D·log(127.5) term is the scaling offset: without it the bpd refers to the [−1, 1] density and is
not comparable with published 8-bit numbers.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from sciffusion.common.noise import rand

UINT8_SCALE = 127.5
"""x = y / UINT8_SCALE − 1 maps dequantised 8-bit values y ∈ [0, 256) onto roughly [−1, 1]."""


def dequantize_uint8(k: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Uniformly dequantise 8-bit data: ``k`` integers in [0, 255], any shape → float32
    x = (k + u) / 127.5 − 1, u ~ U[0, 1) drawn from ``generator``."""
    if k.is_floating_point() and ((k < 0).any() or (k > 255).any()):
        raise ValueError("k: 8-bit values must lie in [0, 255]")
    u = rand(k.shape, generator=generator, device=k.device)
    return (k.to(torch.float32) + u) / UINT8_SCALE - 1.0


def scale_offset_nats(dim: int, scale: float = UINT8_SCALE) -> float:
    """D · log(scale): nats to add to −log p_x to get −log p_y for y = scale · (x + 1)."""
    return dim * math.log(scale)


def bits_per_dim(nll_nats: Tensor | float, dim: int, scale: float = UINT8_SCALE) -> Tensor:
    """bpd = (−log p_x(x) + D log(scale)) / (D ln 2) from ``nll_nats`` = −log p_x(x) (nats, [B] or scalar)."""
    if dim < 1:
        raise ValueError(f"dim: must be >= 1, got {dim}")
    return (torch.as_tensor(nll_nats) + scale_offset_nats(dim, scale)) / (dim * math.log(2.0))


__all__ = ["UINT8_SCALE", "bits_per_dim", "dequantize_uint8", "scale_offset_nats"]
