"""Small Lightning callbacks shared by the pipelines."""
from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch


class LossHistory(pl.Callback):
    """Records ``(global_step, loss)`` after every optimizer step; under DDP the loss is the mean
    over ranks (the loss of the global batch). ``steps``/``losses`` are plain lists (rank 0 complete)."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        loss = trainer.strategy.reduce(loss.detach().clone(), reduce_op="mean")
        self.steps.append(trainer.global_step)
        self.losses.append(float(loss))


class TimeBudget(pl.Callback):
    """Stops training after ``minutes`` of wall-clock time from the start of fitting (checked after
    every batch; ranks agree through the strategy's broadcast)."""

    def __init__(self, minutes: float) -> None:
        if minutes <= 0:
            raise ValueError(f"minutes: must be > 0, got {minutes}")
        self.seconds = 60.0 * minutes
        self.start: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        over = self.start is not None and time.monotonic() - self.start >= self.seconds
        if trainer.strategy.broadcast(torch.tensor(over)).item():
            trainer.should_stop = True


__all__ = ["LossHistory", "TimeBudget"]
