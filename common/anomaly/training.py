"""Train (or fine-tune) a denoiser on normal data for a detector: :class:`DiffusionModule`, AdamW, EMA,
a step cap and a wall-clock budget (:class:`~sciffusion.common.training.TimeBudget`), CPU or one GPU."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from sciffusion.common.training.config import TrainConfig


@dataclass(frozen=True)
class FitReport:
    """What training did: optimizer ``steps``, wall ``seconds``, ``stopped_by`` (steps | time | epochs |
    interrupted), the mean loss of the last 50 steps, the number of training inputs, and the Lightning
    ``precision`` it ran in (None: no training, or a file from before it was recorded)."""

    steps: int
    seconds: float
    stopped_by: str
    final_loss: Optional[float]
    inputs: int
    precision: Optional[str] = None


def train_denoiser(net: nn.Module, x: Tensor, train: TrainConfig, *, minutes: float, max_steps: int,
                   batch_size: int, seed: int = 0, progress: bool = False,
                   windows: Optional[tuple[int, int]] = None, precision: str = "32-true"):
    """Fit ``net`` as a denoiser on ``x [N, ...]`` (data units) through :class:`DiffusionModule`.

    windows: ``(context, target)`` frames of a context denoiser on clips ``x [N, C, T, ...]``: the batches
    are random windows ``(target, context)`` of the clips
    (:class:`~sciffusion.common.anomaly.predictive.ClipWindows`; their positions come from torch's global
    RNG, which the caller seeds); None trains on the inputs themselves.

    precision: Lightning's, or ``auto`` (:func:`~sciffusion.common.training.precision.resolve_precision`:
    bf16 mixed precision where the hardware computes bf16 natively); weights, optimizer and EMA stay float32.

    Stops after ``max_steps`` optimizer steps or ``minutes`` of wall time, whichever comes first.
    Returns ``(module in eval mode, FitReport)``; denoise with ``module.denoiser(use_ema=True)``.
    """
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    from sciffusion.common.training import DiffusionModule, LossHistory, StepProgressBar, TimeBudget, stop_reason
    from sciffusion.common.training.precision import resolve_precision
    from sciffusion.common.training.quiet import quiet_lightning
    from sciffusion.common.training.trainer import fit_or_interrupt

    if len(x) < 1:
        raise ValueError("x: no training inputs")
    if max_steps < 1 or batch_size < 1:
        raise ValueError(f"max_steps/batch_size: must be >= 1, got ({max_steps}, {batch_size})")
    precision = resolve_precision(precision)
    module = DiffusionModule(net, train)
    history, budget = LossHistory(), TimeBudget(minutes)
    from sciffusion.common.anomaly.predictive import ClipWindows

    dataset = TensorDataset(x) if windows is None else ClipWindows(x, *windows)
    loader = DataLoader(dataset, batch_size=min(batch_size, len(x)), shuffle=True,
                        drop_last=len(x) > batch_size, generator=torch.Generator().manual_seed(seed))
    callbacks: list = [budget, history] + ([StepProgressBar("train steps")] if progress else [])
    with quiet_lightning():  # no start-up banners in the command's output
        trainer = pl.Trainer(accelerator="auto", devices=1, max_epochs=-1, max_steps=max_steps, logger=False,
                             enable_checkpointing=False, enable_progress_bar=progress, enable_model_summary=False,
                             callbacks=callbacks, num_sanity_val_steps=0, precision=precision)
        start = time.monotonic()
        with warnings.catch_warnings():  # no validation here by design: Lightning's notice of it is noise
            warnings.filterwarnings("ignore", message=".*validation_step.* but have no .*val_dataloader")
            fit_or_interrupt(trainer, module, None, train_dataloaders=loader)
        seconds = time.monotonic() - start
    tail = history.losses[-50:]
    module.eval()
    return module, FitReport(trainer.global_step, round(seconds, 2), stop_reason(trainer, budget),
                             sum(tail) / len(tail) if tail else None, len(x), precision)


__all__ = ["FitReport", "train_denoiser"]
