"""The working resolution of a detector: large images and clips are scored at a reduced size.

A denoiser's cost grows with the pixel count, and a detector has minutes to train on the CPU: at
128 × 128 × 3 a default U-Net step takes about a minute on one core (5 steps in the default budget,
measured in docs/ood.md), at 64 × 64 a few seconds. So inputs whose larger side exceeds ``max_side`` are
area-averaged to a working size before the network sees them (:func:`working_shape`: the aspect ratio
kept, sides rounded to multiples of 8 so that the U-Net keeps its levels), and dense maps are upsampled
back to the input size (bilinear), so users see inputs, maps and masks at their own size. Vectors and
inputs already small enough are untouched.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import torch
from torch import Tensor, nn

SIDE_MULTIPLE = 8  # working sides are multiples of 8: three U-Net levels of 2x downsampling


def working_shape(sample_shape: tuple[int, ...], max_side: Optional[int]) -> tuple[int, ...]:
    """``sample_shape`` ([d], [C, H, W] or [C, T, H, W]) with H, W scaled down so that the larger is at
    most ``max_side`` (about; rounded to a multiple of 8, at least 8), aspect ratio kept; unchanged for
    vectors, for ``max_side`` None, and when both sides already fit."""
    shape = tuple(int(s) for s in sample_shape)
    if max_side is None or len(shape) < 3 or max(shape[-2:]) <= max_side:
        return shape
    if max_side < SIDE_MULTIPLE:
        raise ValueError(f"max_side: must be >= {SIDE_MULTIPLE} px, got {max_side}")
    scale = max_side / max(shape[-2:])
    sides = tuple(max(SIDE_MULTIPLE, SIDE_MULTIPLE * int(round(s * scale / SIDE_MULTIPLE))) for s in shape[-2:])
    return shape[:-2] + tuple(min(s, orig) for s, orig in zip(sides, shape[-2:]))


def check_working_shape(input_shape: tuple[int, ...], work: tuple[int, ...]) -> None:
    """One-line ValueError unless ``work`` is ``input_shape`` with H, W equal or smaller (same rank,
    channels and frames): a network fitted at another size cannot serve these inputs."""
    if len(work) != len(input_shape) or work[:-2] != input_shape[:-2] or \
            (len(work) >= 3 and any(w > s for w, s in zip(work[-2:], input_shape[-2:]))) or \
            (len(work) < 3 and work != input_shape):
        raise ValueError(f"X: inputs of shape {list(input_shape)}, the network works on {list(work)} (it can "
                         "only work at the same or a smaller H, W, with the same channels and frames)")


def to_working(x: Tensor, work: tuple[int, ...]) -> Tensor:
    """Inputs ``[N, *input_shape]`` → ``[N, *work]``, area-averaged over H, W (the identity when the
    shapes agree); clips are resized frame by frame."""
    if tuple(x.shape[1:]) == tuple(work):
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    small = nn.functional.interpolate(flat, size=tuple(work[-2:]), mode="area")
    return small.reshape(*lead, *work[-2:])


@dataclass(frozen=True)
class ReducedInputs:
    """Inputs of ``input_shape`` (one input, no batch axis) held as ``x`` float32 ``[N, *held]``, where
    ``held`` is ``input_shape`` or the same with a smaller H, W (area-averaged by :func:`to_working`).

    A caller reading a large set reduces it chunk by chunk (:func:`reduce_chunks`) and hands the
    detector this instead of the full-size floats, which it then never holds at once (10,000 RGB
    images of 256 × 256 are 7.9 GB as float32, 0.5 GB at 64 × 64). The detector still knows, and
    answers at, the inputs' own size (maps, ``sample_shape``)."""

    x: Tensor
    input_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        check_working_shape(self.input_shape, tuple(self.x.shape[1:]))

    def __len__(self) -> int:
        return len(self.x)

    @property
    def held_shape(self) -> tuple[int, ...]:
        """The shape one input is held at (``input_shape`` or smaller in H, W)."""
        return tuple(self.x.shape[1:])


def held_at(inputs: ReducedInputs, work: tuple[int, ...]) -> Tensor:
    """``inputs`` at the working size ``work``: reduced here when held at their own size; inputs reduced
    by the caller must already be at ``work`` (a second averaging would not be the same)."""
    if inputs.held_shape not in (inputs.input_shape, tuple(work)):
        raise ValueError(f"X: inputs of shape {list(inputs.input_shape)} held at {list(inputs.held_shape)}, "
                         f"the detector works on {list(work)}")
    return to_working(inputs.x, tuple(work))


def reduce_chunks(chunks: Iterable[Tensor], work: tuple[int, ...]) -> Tensor:
    """:func:`to_working` of the concatenation of ``chunks`` (each ``[n_i, *input_shape]``), one chunk
    at a time: only one chunk is ever held at full size. Returns ``[sum n_i, *work]``."""
    parts = []
    for chunk in chunks:
        parts.append(to_working(chunk, tuple(work)).clone())
        del chunk  # freed before the next chunk is made
    if not parts:
        raise ValueError("X: no inputs")
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def map_to_input(dense: Optional[Tensor], size: tuple[int, int]) -> Optional[Tensor]:
    """A dense map ``[B, h, w]`` or ``[B, T, h, w]`` at the working size → ``size`` (H, W), bilinear
    (None stays None; the identity when the sizes agree)."""
    if dense is None or tuple(dense.shape[-2:]) == tuple(size):
        return dense
    lead = dense.shape[:-2]
    flat = dense.float().reshape(-1, 1, *dense.shape[-2:])
    big = nn.functional.interpolate(flat, size=tuple(size), mode="bilinear", align_corners=False)
    return big.reshape(*lead, *size)


__all__ = ["ReducedInputs", "SIDE_MULTIPLE", "check_working_shape", "held_at", "map_to_input", "reduce_chunks", "to_working",
           "working_shape"]
