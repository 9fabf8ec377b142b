"""Exponential moving average of a network's parameters (Polyak averaging), for sampling and eval.

After the n-th update (n = 0, 1, …) θ_ema ← d_n θ_ema + (1 − d_n) θ with
d_n = min(decay, (1 + n) / (10 + n)) when ``warmup`` (the TensorFlow/DDPM warm-up, so early averages
are not dominated by the random initialisation), else d_n = decay. Buffers (e.g. norm statistics)
are copied, not averaged.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Iterator

import torch
from torch import nn


class ExponentialMovingAverage(nn.Module):
    """Holds ``shadow``, a frozen copy of ``model``; an nn.Module so it lives in checkpoints."""

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema decay: must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.shadow = copy.deepcopy(model).requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """d_n for the next update."""
        n = int(self.num_updates)
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards ``model``'s current parameters."""
        d = self.current_decay()
        for p_ema, p in zip(self.shadow.parameters(), model.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - d)
        for b_ema, b in zip(self.shadow.buffers(), model.buffers()):
            b_ema.copy_(b)
        self.num_updates += 1

    @contextlib.contextmanager
    def swapped_into(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the EMA weights into ``model`` (e.g. to sample/evaluate with code that
        holds ``model``); the training weights are restored on exit, even on an exception."""
        backup = [p.detach().clone() for p in model.parameters()]
        with torch.no_grad():
            for p, p_ema in zip(model.parameters(), self.shadow.parameters()):
                p.copy_(p_ema)
        try:
            yield model
        finally:
            with torch.no_grad():
                for p, b in zip(model.parameters(), backup):
                    p.copy_(b)


__all__ = ["ExponentialMovingAverage"]
