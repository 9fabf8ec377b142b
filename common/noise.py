"""Random draws from a seeded generator: drawn where the generator lives, then moved.

A ``torch.Generator`` can only draw on its own device. So that a seed gives the same numbers whatever
device the state is on (a CPU generator driving a GPU sampler, for example), every draw in the core
happens on ``generator.device`` and is then moved to the requested device. Without a generator the
draw uses the default generator of the requested device, as ``torch.randn(..., device=device)`` does.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

Device = torch.device | str | None


def draw_device(generator: Optional[torch.Generator], device: Device) -> Device:
    """Where a draw for ``device`` happens: the generator's device, or ``device`` without a generator."""
    return generator.device if generator is not None else device


def _moved(t: Tensor, device: Device) -> Tensor:
    return t if device is None else t.to(device)


def randn(shape: int | Sequence[int], *, generator: Optional[torch.Generator] = None,
          dtype: Optional[torch.dtype] = None, device: Device = None) -> Tensor:
    """Standard normal ``shape`` tensor of ``dtype`` (None: torch's default) drawn on the generator's
    device and returned on ``device`` (None: where it was drawn)."""
    return _moved(torch.randn(shape, generator=generator, dtype=dtype, device=draw_device(generator, device)), device)


def rand(shape: int | Sequence[int], *, generator: Optional[torch.Generator] = None,
         dtype: Optional[torch.dtype] = None, device: Device = None) -> Tensor:
    """Uniform [0, 1) ``shape`` tensor; ``generator``, ``dtype`` and ``device`` as in :func:`randn`."""
    return _moved(torch.rand(shape, generator=generator, dtype=dtype, device=draw_device(generator, device)), device)


def randn_like(x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """Standard normal noise of ``x``'s shape, dtype and device (without a generator: ``torch.randn_like``,
    which also keeps x's memory layout)."""
    if generator is None:
        return torch.randn_like(x)
    return randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


__all__ = ["draw_device", "rand", "randn", "randn_like"]
