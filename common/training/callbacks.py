"""Small Lightning callbacks shared by the pipelines."""
from __future__ import annotations

import time
from typing import Any, Literal, Optional

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import RichProgressBar


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
    every batch; ranks agree through the strategy's broadcast). ``stopped`` tells whether it did."""

    def __init__(self, minutes: float) -> None:
        if minutes <= 0:
            raise ValueError(f"minutes: must be > 0, got {minutes}")
        self.seconds = 60.0 * minutes
        self.start: float | None = None
        self.stopped = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.monotonic()
        self.stopped = False

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        over = self.start is not None and time.monotonic() - self.start >= self.seconds
        if trainer.strategy.broadcast(torch.tensor(over)).item():
            trainer.should_stop = True
            self.stopped = True


StopReason = Literal["steps", "time", "epochs", "interrupted"]


def stop_reason(trainer: pl.Trainer, time_budget: Optional[TimeBudget] = None) -> StopReason:
    """Which bound ended ``trainer.fit``: ``"steps"`` (``max_steps`` optimizer steps done; wins a tie),
    ``"time"`` (``time_budget`` fired first), ``"epochs"`` (``max_epochs`` done) or ``"interrupted"``."""
    if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
        return "steps"
    if time_budget is not None and time_budget.stopped:
        return "time"
    if trainer.max_epochs is not None and trainer.max_epochs > 0 and trainer.current_epoch >= trainer.max_epochs:
        return "epochs"
    return "interrupted"


class StepProgressBar(RichProgressBar):
    """A rich training bar that counts optimizer steps out of ``trainer.max_steps`` across epochs
    ("train steps 130/1300"), for step-budgeted runs (Lightning's own bar counts the batches of the
    current epoch and shows "Epoch 0/-2" when ``max_epochs=-1``). Without a step budget it falls back to
    Lightning's per-epoch bar. It draws on stderr (``console_kwargs`` may say otherwise): Lightning's bar
    reconfigures rich's global console from its ``console_kwargs``, which would otherwise put the bar,
    and every rich output after it, on stdout."""

    def __init__(self, description: str = "train steps", **kwargs: Any) -> None:
        kwargs["console_kwargs"] = {"stderr": True, **(kwargs.get("console_kwargs") or {})}
        super().__init__(**kwargs)
        self.description = description
        self._first_step = 0

    def _step_budget(self) -> Optional[int]:
        return self.trainer.max_steps if self.trainer.max_steps > 0 else None

    @property
    def total_train_batches(self) -> int | float:
        budget = self._step_budget()
        return budget if budget is not None else super().total_train_batches

    def _get_train_description(self, current_epoch: int) -> str:
        return self.description if self._step_budget() is not None else super()._get_train_description(current_epoch)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._step_budget() is None or self.train_progress_bar_id is None:
            super().on_train_epoch_start(trainer, pl_module)  # one bar for the whole run, not reset per epoch

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._first_step = trainer.global_step  # a resumed run counts its own steps per second

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        # Lightning's bar shows batch_idx + 1 done; pass the steps done instead, so the bar (and rich's
        # speed and time-left estimates) see one monotone count across epochs.
        done = trainer.global_step if self._step_budget() is not None else batch_idx + 1
        total = self._reachable_steps(trainer)
        if total is not None and self.train_progress_bar_id is not None and self.progress is not None:
            self.progress.update(self.train_progress_bar_id, total=total)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, done - 1)

    def _reachable_steps(self, trainer: pl.Trainer) -> Optional[int]:
        """Under a :class:`TimeBudget` that will stop the run before ``max_steps``: the step it will stop
        near, at the speed so far (so the bar fills, and its time left is the budget's, not days for a
        default step budget no run reaches); None otherwise."""
        budget = next((c for c in trainer.callbacks if isinstance(c, TimeBudget)), None)
        done = trainer.global_step - self._first_step
        if self._step_budget() is None or budget is None or budget.start is None or done < 1:
            return None
        elapsed = time.monotonic() - budget.start
        if elapsed <= 0:
            return None
        projected = trainer.global_step + int(done / elapsed * max(budget.seconds - elapsed, 0.0))
        return projected if projected < trainer.max_steps else None


__all__ = ["LossHistory", "StepProgressBar", "StopReason", "TimeBudget", "stop_reason"]
