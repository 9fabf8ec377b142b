"""Trace of the denoiser Jacobian, tr(∂D/∂x), per sample: exact (d backward passes) or Hutchinson.

Both return ``(D(x, σ) [B, ...], trace [B])`` from one forward pass. They assume the denoiser treats
batch elements independently (no BatchNorm in train mode); GroupNorm/LayerNorm are fine.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.noise import draw_device, randn

ProbeKind = Literal["rademacher", "gaussian"]


def _forward_with_graph(denoise: DenoiseFn, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    x = x.detach().requires_grad_(True)
    return x, denoise(x, sigma)


def exact_trace(denoise: DenoiseFn, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """tr(∂D/∂x) by the Jacobian diagonal: one backward pass per dimension d (use for small d).

    x: ``[B, ...]`` (d = prod of trailing dims); sigma: ``[B]``. Returns ``(D [B, ...], tr [B])``.
    """
    with torch.enable_grad():
        xg, out = _forward_with_graph(denoise, x, sigma)
        flat = out.reshape(len(x), -1)
        d = flat.shape[1]
        trace = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for i in range(d):
            (g,) = torch.autograd.grad(flat[:, i].sum(), xg, retain_graph=i < d - 1)
            trace = trace + g.reshape(len(x), -1)[:, i]
    return out.detach(), trace.detach()


def draw_probes(shape: tuple[int, ...], n_probes: int, kind: ProbeKind, generator: torch.Generator | None,
                dtype: torch.dtype, device: torch.device) -> Tensor:
    """``[n_probes, *shape]`` probe vectors with E[v vᵀ] = I: Rademacher (±1) or standard Gaussian."""
    if n_probes < 1:
        raise ValueError(f"n_probes: must be >= 1, got {n_probes}")
    full = (n_probes, *shape)
    if kind == "rademacher":
        bits = torch.randint(0, 2, full, generator=generator, device=draw_device(generator, device))
        return (bits.to(dtype) * 2 - 1).to(device)
    if kind == "gaussian":
        return randn(full, generator=generator, dtype=dtype, device=device)
    raise ValueError(f"probe: must be 'rademacher' or 'gaussian', got {kind!r}")


def hutchinson_trace(denoise: DenoiseFn, x: Tensor, sigma: Tensor, probes: Tensor) -> tuple[Tensor, Tensor]:
    """Hutchinson's estimator tr(J) ≈ (1/n) Σ_k v_kᵀ J v_k with ``probes`` ``[n, B, ...]``
    (one forward pass, n vector-Jacobian products). Unbiased when E[v vᵀ] = I.

    Returns ``(D [B, ...], estimate [B])``.
    """
    n = len(probes)
    with torch.enable_grad():
        xg, out = _forward_with_graph(denoise, x, sigma)
        est = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for k in range(n):
            (g,) = torch.autograd.grad(out, xg, grad_outputs=probes[k], retain_graph=k < n - 1)
            est = est + (g * probes[k]).reshape(len(x), -1).sum(1)
    return out.detach(), (est / n).detach()


__all__ = ["ProbeKind", "draw_probes", "exact_trace", "hutchinson_trace"]
