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


CHANGE_THRESHOLD = 0.1
"""In [-1, 1] units: a pixel "changes" when some channel differs this much from the reference frame."""


def changing_pixels(frames: Tensor, reference: Tensor, threshold: float = CHANGE_THRESHOLD) -> Tensor:
    """Where a block moves: bool ``[B, 1, T, H, W]``, True where any channel of ``frames`` [B, C, T, H, W]
    (in [-1, 1]) differs from ``reference`` [B, C, 1, H, W] (the frame the block continues from) by more
    than ``threshold``. Moving objects mark both where they were and where they are."""
    if frames.dim() != 5 or reference.dim() != 5 or reference.shape[2] != 1:
        raise ValueError(f"changing_pixels: need frames [B, C, T, H, W] and reference [B, C, 1, H, W], got "
                         f"{tuple(frames.shape)} and {tuple(reference.shape)}")
    return ((frames - reference).abs() > threshold).any(dim=1, keepdim=True)


__all__ = ["CHANGE_THRESHOLD", "changing_pixels", "to_uint8", "to_unit_range"]
