"""A step-budgeted Lightning trainer for the pipelines' ``train`` commands.

Training stops at ``max_steps`` optimizer steps and/or after ``minutes`` of wall-clock time
(:class:`~sciffusion.common.training.callbacks.TimeBudget`), validates every ``val_every`` optimizer
steps across epochs, and writes no logs or checkpoints of its own (the pipeline's run files do).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import pytorch_lightning as pl
import torch

from sciffusion.common.training.callbacks import StepProgressBar, TimeBudget
from sciffusion.common.training.precision import resolve_precision

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")


def check_devices(accelerator: str, devices: str) -> None:
    """``--accelerator`` one of :data:`ACCELERATORS` (``gpu``/``cuda`` only where CUDA is available);
    ``--devices`` ``auto`` or a count >= 1."""
    if accelerator not in ACCELERATORS:
        raise ValueError(f"--accelerator: must be auto, cpu, gpu or cuda, got {accelerator!r}")
    if devices != "auto" and not (devices.isdigit() and int(devices) >= 1):
        raise ValueError(f"--devices: must be 'auto' or a count >= 1, got {devices!r}")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(f"--accelerator: {accelerator} requested but CUDA is not available here")


def step_trainer(callbacks: Sequence[pl.Callback], *, accelerator: str, devices: str, max_steps: Optional[int],
                 minutes: Optional[float], val_every: Optional[int], progress: bool,
                 precision: str = "32-true") -> tuple[pl.Trainer, Optional[TimeBudget]]:
    """The trainer and its time budget (None without ``minutes``). ``callbacks`` come first, then the
    budget and (``progress``) a :class:`StepProgressBar`. ``max_steps`` None: no step limit;
    ``val_every`` None: no validation. ``accelerator`` ``cuda`` means Lightning's ``gpu``; ``devices``
    ``auto`` or a count (a string, as the CLI gives it); ``precision`` Lightning's or ``auto``
    (:func:`~sciffusion.common.training.precision.resolve_precision` on ``accelerator``)."""
    check_devices(accelerator, devices)
    precision = resolve_precision(precision, accelerator)
    callbacks = list(callbacks)
    budget = None
    if minutes is not None:
        budget = TimeBudget(minutes)
        callbacks.append(budget)
    if progress:
        callbacks.append(StepProgressBar())
    trainer = pl.Trainer(
        accelerator="gpu" if accelerator == "cuda" else accelerator,
        devices=devices if devices == "auto" else int(devices),
        max_steps=-1 if max_steps is None else max_steps, max_epochs=-1,
        val_check_interval=val_every, check_val_every_n_epoch=None,
        limit_val_batches=None if val_every is not None else 0,
        num_sanity_val_steps=0, precision=precision, logger=False, enable_checkpointing=False,
        enable_progress_bar=progress, enable_model_summary=False, callbacks=callbacks, gradient_clip_val=None)
    return trainer, budget


def fit_or_interrupt(trainer: pl.Trainer, module: pl.LightningModule, out: Optional[Path], **fit_kwargs: Any) -> None:
    """``trainer.fit(module, **fit_kwargs)``, where Ctrl-C comes back as ``KeyboardInterrupt`` whose message
    says what was saved: Lightning handles it itself (its callbacks' ``on_exception`` run, so
    :class:`~sciffusion.common.training.run_files.RunFiles` writes RUN_DIR ``out``) and then calls
    ``sys.exit(1)``, a silent exit code 1 the user cannot tell from a failure. ``out`` None: a fit that
    keeps no run files (the message says nothing was written)."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        trainer.fit(module, **fit_kwargs)
    except SystemExit:
        if not trainer.interrupted:
            raise
        if main:  # Lightning ignores SIGINT from the first Ctrl-C on; give the process its handler back
            signal.signal(signal.SIGINT, handler)
        if out is None:  # nothing of the run is kept (the caller writes its outputs after training)
            raise KeyboardInterrupt(f"training interrupted at step {trainer.global_step}; nothing written") from None
        saved = (Path(out) / "last.ckpt").is_file()
        raise KeyboardInterrupt(f"training interrupted at step {trainer.global_step}; "
                                + (f"{out}/last.ckpt holds the last saved step, --resume continues from there" if saved else
                                   "nothing saved yet (give a new --out, or --resume where a last.ckpt exists)")
                                ) from None


def check_batches_per_process(batches: int, devices: object, num_nodes: int, unit: str) -> None:
    """Refuse, with a one-line ValueError, a predict loop of more processes (``devices`` — a count or a
    list of device indices — × ``num_nodes``) than ``batches``: Lightning gives each process its share
    of the batches, and a process with none fails an assertion in its distributed sampler after the
    others have started. ``unit`` names what a batch holds (for the message)."""
    if isinstance(devices, str):  # "auto": Lightning decides, nothing to check here
        return
    world = (len(devices) if isinstance(devices, (list, tuple)) else int(devices)) * num_nodes
    if batches < world:
        raise ValueError(f"--devices/--num-nodes: {world} processes but only {batches} batch(es) of {unit}: "
                         f"use --devices x --num-nodes <= {batches} or a smaller --batch-size")


def release_process_group() -> None:
    """Destroy ``torch.distributed``'s process groups once a multi-process Lightning run has finished
    its last collective (a no-op in a single process). Lightning's DDP teardown leaves them alive, and
    a gloo group still alive at interpreter exit can abort the process (``terminate called without an
    active exception``, SIGABRT) after the run's files were written. Call it on every rank, after
    success only: a rank that failed must not wait in the collective teardown for the others."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


__all__ = ["ACCELERATORS", "check_batches_per_process", "check_devices", "release_process_group", "step_trainer"]
