"""The torch device a ``--device`` option names, checked once for every command."""
from __future__ import annotations


def device_of(name: str):
    """``torch.device`` for ``--device`` (``cpu``, ``cuda``, ``cuda:1``, ...); CUDA must be available.
    One-line ValueError naming ``--device`` otherwise."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device: not a torch device name, got {name!r} (cpu, cuda, cuda:0, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device: {name} requested but CUDA is not available here")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device: only cpu and cuda are supported, got {name!r}")
    return device


__all__ = ["device_of"]
