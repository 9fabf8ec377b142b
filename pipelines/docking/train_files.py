"""The files of a ``docking train`` run: the core's run files with the pose-diffusion model file.

RUN_DIR/last.ckpt   Lightning checkpoint (weights, EMA, optimiser, step) for ``--resume``
RUN_DIR/model.ckpt  EMA weights + model/process/data settings (:func:`~sciffusion.domains.docking.
                    pose_diffusion.model_file`, plain dict, readable weights-only) for ``sciffusion dock --model``
RUN_DIR/curves.csv  step, train loss (total and per component, mean over the last ``log_every`` steps),
                    val loss (total and per component, EMA weights, fixed draws)
RUN_DIR/curves.png  the same, log scale

The writing (atomic, resumable) is :mod:`sciffusion.common.training.run_files`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import pytorch_lightning as pl

from sciffusion.common.training import run_files
from sciffusion.common.training.run_files import curve_columns, read_curves
from sciffusion.domains.docking.pose_diffusion import POSE_COMPONENTS, model_file

METRICS = ("loss",) + tuple(f"loss_{k}" for k in POSE_COMPONENTS)
COLUMNS = curve_columns(METRICS)
PANEL_WIDTH = 3.0
"""Inches per curves.png panel (up to four panels: total, r3, so3, torus)."""


def curves_csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    return run_files.curves_csv_text(rows, COLUMNS)


def write_curves_png(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Train and val losses per component against the step (log y), one panel per logged metric."""
    run_files.write_curves_png(rows, METRICS, path, PANEL_WIDTH)


class RunFiles(run_files.RunFiles):
    """Keeps RUN_DIR's last.ckpt, model.ckpt, curves.csv and curves.png current (module docstring).
    ``data``: the data settings stored with the model (``model_file``)."""

    def __init__(self, out: Path, data: Mapping[str, Any], log_every: int, checkpoint_every: int) -> None:
        self.data = dict(data)
        super().__init__(out, self._model_file, log_every, checkpoint_every, METRICS, PANEL_WIDTH)

    def _model_file(self, pl_module: pl.LightningModule, step: int) -> dict:
        net = pl_module.ema.shadow
        return model_file(net.model, net.process, self.data, {"step": step})


__all__ = ["COLUMNS", "RunFiles", "curves_csv_text", "read_curves", "write_curves_png"]
