"""Frame conversions between uint8 stores and the models' float tensors (torch only, no Lightning)."""
from __future__ import annotations

import torch
from torch import Tensor


def to_unit_range(frames: Tensor) -> Tensor:
    """uint8 [..., T, H, W, C] → float32 [..., C, T, H, W] in [-1, 1]."""
    x = frames.float().div(127.5).sub(1.0)
    return x.movedim(-1, -4)


def to_uint8(x: Tensor) -> Tensor:
    """float [..., C, T, H, W] in [-1, 1] → uint8 [..., T, H, W, C] (clipped, rounded)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).movedim(-4, -1)


__all__ = ["to_uint8", "to_unit_range"]
