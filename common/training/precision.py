"""Lightning's training precision, with ``auto``: bf16 mixed precision where the hardware computes bf16 itself.

Mixed precision keeps the weights, the optimizer state and the EMA in float32 and runs convolutions and
matrix products in bfloat16 (``torch.autocast``). On a CPU with bf16 instructions (x86 ``avx512_bf16`` or
``amx_bf16``) a training step of the anomaly detector's 28-px U-Net takes 0.53 s instead of 0.95 s on one
core, and a 10-minute budget buys 1,023 steps instead of 611 (docs/ood.md, twenty-third round); a CPU without
them has to emulate bf16 (not measured here), so ``auto`` keeps float32 there. On a CUDA GPU ``auto`` takes bf16 where
the GPU supports it (Ampere and later). Apple's MPS and other accelerators stay in float32.
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])

AUTO_PRECISION = "auto"
PRECISIONS: tuple[str, ...] = (AUTO_PRECISION, "32-true", "bf16-mixed", "16-mixed")
"""What ``precision`` may say: ``auto`` (:func:`resolve_precision`) or one of Lightning's."""

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 CPU flags (as Linux's /proc/cpuinfo names them) of native bf16 arithmetic."""


def check_precision(precision: str, name: str = "precision") -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; else a one-line ValueError naming ``name``."""
    if precision not in PRECISIONS:
        raise ValueError(f"{name}: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has bf16 arithmetic instructions (:data:`BF16_CPU_FLAGS` among the ``flags`` of
    ``cpuinfo``); False where the file cannot be read (other systems: float32 is the safe choice)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags" and any(flag in value.split() for flag in BF16_CPU_FLAGS):
            return True
    return False


def resolve_precision(precision: str, accelerator: str = "auto", cpu_bf16: Optional[bool] = None) -> str:
    """The Lightning precision ``precision`` means on ``accelerator`` (``auto``, ``cpu``, ``gpu``/``cuda``):
    itself unless ``auto``; for ``auto``, ``bf16-mixed`` on a CUDA GPU that supports bf16 and on a CPU with
    native bf16 (``cpu_bf16``; None: :func:`cpu_has_native_bf16`), else ``32-true``."""
    check_precision(precision)
    if precision != AUTO_PRECISION:
        return precision
    cuda = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if cuda:
        return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"
    mps = getattr(torch.backends, "mps", None)
    if accelerator == "auto" and mps is not None and mps.is_available():
        return "32-true"  # Lightning's auto accelerator is MPS there
    native = cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16
    return "bf16-mixed" if native else "32-true"


def _at_least_float32(value: Any) -> Any:
    half = isinstance(value, torch.Tensor) and value.dtype in (torch.float16, torch.bfloat16)
    return value.float() if half else value


def autocast_enabled() -> bool:
    """Whether a ``torch.autocast`` region (CPU or CUDA) is active here."""
    return torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")


def autocast_off() -> contextlib.AbstractContextManager:
    """A region where no ``torch.autocast`` applies (CPU and CUDA), inside a mixed-precision step."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast("cpu", enabled=False))
    stack.enter_context(torch.autocast("cuda", enabled=False))
    return stack


def full_precision(fn: F) -> F:
    """``fn`` run outside any ``torch.autocast`` region, its half-precision tensor arguments (positional or
    keyword, float16/bfloat16) cast to float32; float32 and float64 inputs are left as they are. For
    numerics that mixed precision must not touch: decompositions (SVD, determinants, solves have no bf16
    kernels on the CPU) and geometry whose error would be amplified (Kabsch, rotation updates). Outside
    mixed precision it is a plain call."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not autocast_enabled():
            return fn(*args, **kwargs)
        args = tuple(_at_least_float32(a) for a in args)
        kwargs = {k: _at_least_float32(v) for k, v in kwargs.items()}
        with autocast_off():
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


__all__ = ["AUTO_PRECISION", "BF16_CPU_FLAGS", "PRECISIONS", "autocast_enabled", "autocast_off", "check_precision",
           "cpu_has_native_bf16", "full_precision", "resolve_precision"]
