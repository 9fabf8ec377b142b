"""Feature-bank anomaly scores: the denoiser's own activations as a representation, nearest neighbours
among those of normal training inputs as the score.

A denoiser trained on normal data learns features of that data (Xiang et al. 2023, "Denoising diffusion
autoencoders are unified self-supervised learners": the activations of a diffusion U-Net, read at a
moderate noise level, are linearly separable representations). We read them on the **clean** input,
with the network conditioned on a level σ (no noise drawn: the score is deterministic), at the layer
:func:`~sciffusion.common.anomaly.networks.feature_layer` names (the U-Net's bottleneck), flatten and
L2-normalise them per level, and compare with a memory bank of the same embeddings of normal training
inputs, as PatchCore does with pretrained features (Roth et al. 2022): the feature of level l is the mean
Euclidean distance between unit vectors (= √(2 − 2 cos)) to the ``k`` nearest bank entries. Higher =
farther from everything normal. NFE = number of levels (one network call each).

The map (for images and clips) is the σ-scaled denoising residual ((D(x, σ) − x)/σ)² of the same calls,
channel-averaged: where the denoiser would change the input.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.anomaly.features import AnomalyScores, dense
from sciffusion.common.denoisers import DenoiseFn


@contextmanager
def capture_output(module: nn.Module) -> Iterator[dict[str, Tensor]]:
    """Within the block, ``captured["out"]`` is the last output of ``module`` (a forward hook)."""
    captured: dict[str, Tensor] = {}
    handle = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("out", out))
    try:
        yield captured
    finally:
        handle.remove()


@torch.no_grad()
def embed(denoise: DenoiseFn, layer: nn.Module, x: Tensor, sigmas: Tensor) -> tuple[Tensor, Tensor]:
    """Unit-norm embeddings ``[B, L, F]`` of clean inputs ``x [B, ...]`` at levels ``sigmas [L]`` (the
    output of ``layer`` while ``denoise(x, σ_l)`` runs, flattened), and the residual map (module
    docstring) summed over levels, shape of x."""
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"x: need shape [B, ...] with B >= 1, got {tuple(x.shape)}")
    if sigmas.dim() != 1 or len(sigmas) == 0 or (sigmas <= 0).any():
        raise ValueError("sigmas: need a non-empty 1-D tensor of noise levels > 0")
    levels, residual = [], torch.zeros_like(x)
    with capture_output(layer) as captured:
        for sigma in sigmas:
            s = sigma.to(x.dtype).to(x.device).expand(len(x))
            denoised = denoise(x, s)
            if "out" not in captured:
                raise ValueError("feature layer: the network never ran it")
            levels.append(nn.functional.normalize(captured.pop("out").reshape(len(x), -1).float(), dim=1))
            residual += ((denoised - x) / float(sigma)) ** 2
    return torch.stack(levels, 1), residual


def knn_distances(queries: Tensor, bank: Tensor, k: int, chunk: int = 1024) -> Tensor:
    """Mean distance of each query ``[B, L, F]`` to its ``k`` nearest bank entries ``[N, L, F]``, per
    level: ``[B, L]`` float64. ``k`` is capped at N."""
    if queries.dim() != 3 or bank.dim() != 3 or queries.shape[1:] != bank.shape[1:]:
        raise ValueError(f"bank: embeddings {tuple(bank.shape[1:])} do not match the inputs' "
                         f"{tuple(queries.shape[1:])} (a detector fitted on other inputs?)")
    k = min(k, len(bank))
    out = torch.empty(len(queries), queries.shape[1], dtype=torch.float64)
    for level in range(queries.shape[1]):
        b = bank[:, level].float().to(queries.device)
        for start in range(0, len(queries), chunk):
            q = queries[start:start + chunk, level].float()
            d = torch.cdist(q, b)
            out[start:start + chunk, level] = d.topk(k, dim=1, largest=False).values.mean(1).double().cpu()
    return out


def feature_knn(denoise: DenoiseFn, layer: nn.Module, x: Tensor, sigmas: Tensor, bank: Tensor,
                k: int = 5) -> AnomalyScores:
    """Feature-bank scores of ``x [B, ...]`` (module docstring): features ``[B, L]`` (kNN distance per
    level), scalar = their mean, NFE = L, map = mean residual map over levels."""
    emb, residual = embed(denoise, layer, x, sigmas)
    distances = knn_distances(emb, bank, k)
    names = tuple(f"knn_{i}_sigma={float(s):.3g}" for i, s in enumerate(sigmas))
    return AnomalyScores(distances, names, distances.mean(1), len(sigmas), dense(residual / len(sigmas)))


def build_bank(denoise: DenoiseFn, layer: nn.Module, x: Tensor, sigmas: Tensor, batch_size: int = 128,
               size: Optional[int] = None, seed: int = 0) -> Tensor:
    """The memory bank ``[N, L, F]`` (float16, CPU) of normal inputs ``x [N, ...]``; at most ``size``
    of them (a seeded random subset) when given."""
    if size is not None and len(x) > size:
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:size]]
    device = next(layer.parameters()).device if any(True for _ in layer.parameters()) else x.device
    parts = [embed(denoise, layer, chunk.to(device), sigmas)[0].half().cpu() for chunk in torch.split(x, batch_size)]
    return torch.cat(parts)


__all__ = ["build_bank", "capture_output", "embed", "feature_knn", "knn_distances"]
