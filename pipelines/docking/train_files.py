"""The files of a ``docking train`` run and the callback that keeps them current.

RUN_DIR/last.ckpt   Lightning checkpoint (weights, EMA, optimiser, step) for ``--resume``
RUN_DIR/model.ckpt  EMA weights + model/process/data settings (:func:`~sciffusion.domains.docking.
                    pose_diffusion.model_file`, plain dict, readable weights-only) for ``sciffusion dock --model``
RUN_DIR/curves.csv  step, train loss (total and per component, mean over the last ``log_every`` steps),
                    val loss (total and per component, EMA weights, fixed draws)
RUN_DIR/curves.png  the same, log scale

Every write is atomic (a temporary sibling renamed into place), so a run killed at any moment leaves
the previous complete files.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Mapping

import pytorch_lightning as pl
import torch

from sciffusion.common.io.atomic import atomic_path, write_text_atomic
from sciffusion.domains.docking.pose_diffusion import POSE_COMPONENTS, model_file

METRICS = ("loss",) + tuple(f"loss_{k}" for k in POSE_COMPONENTS)
COLUMNS = ("step",) + tuple(f"train_{m}" for m in METRICS) + tuple(f"val_{m}" for m in METRICS)


def read_curves(path: Path, up_to_step: int) -> list[dict[str, str]]:
    """Rows of an existing curves.csv with step <= ``up_to_step`` (a resumed run continues them)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step", "").isdigit()
                and int(row["step"]) <= up_to_step]


def curves_csv_text(rows: list[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
    return buf.getvalue()


def write_curves_png(rows: list[Mapping[str, Any]], path: Path) -> None:
    """Train and val losses per component against the step (log y), one panel per metric."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def present(metric: str) -> bool:
        return any(r.get(f"{split}_{metric}") not in (None, "") for r in rows for split in ("train", "val"))

    metrics = [m for m in METRICS if present(m)] or list(METRICS[:1])  # a rigid run has no torsion loss
    fig = Figure(figsize=(3 * len(metrics), 3))
    FigureCanvasAgg(fig)
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        for split, style in (("train", "-"), ("val", "o-")):
            pts = [(int(r["step"]), float(r[f"{split}_{metric}"])) for r in rows
                   if r.get(f"{split}_{metric}") not in (None, "") and math.isfinite(float(r[f"{split}_{metric}"]))]
            if pts:
                ax.plot(*zip(*pts), style, label=split, markersize=3)
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.set_yscale("log")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


class RunFiles(pl.Callback):
    """Keeps RUN_DIR's last.ckpt, model.ckpt, curves.csv and curves.png current (module docstring).
    ``data``: the data settings stored with the model (``model_file``)."""

    def __init__(self, out: Path, data: Mapping[str, Any], log_every: int, checkpoint_every: int) -> None:
        self.out, self.data = Path(out), dict(data)
        self.log_every, self.checkpoint_every = log_every, checkpoint_every
        self.rows: list[dict[str, Any]] = []
        self._sums: dict[str, float] = {}
        self._count = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rows = read_curves(self.out / "curves.csv", trainer.global_step)
        self._sums, self._count = {}, 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        metrics = trainer.callback_metrics
        for m in METRICS:
            if f"train/{m}" in metrics:
                self._sums[m] = self._sums.get(m, 0.0) + float(metrics[f"train/{m}"])
        self._count += 1
        step = trainer.global_step
        if step % self.log_every == 0:
            self._row(step).update({f"train_{m}": v / self._count for m, v in self._sums.items()})
            self._sums, self._count = {}, 0
        if step % self.checkpoint_every == 0:
            self.save(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        self._row(trainer.global_step).update({f"val_{m}": float(metrics[f"val/{m}"]) for m in METRICS
                                               if f"val/{m}" in metrics})
        if trainer.is_global_zero:
            self.write_curves()

    def _row(self, step: int) -> dict[str, Any]:
        for row in self.rows:
            if int(row["step"]) == step:
                return row
        self.rows.append({"step": step})
        self.rows.sort(key=lambda r: int(r["step"]))
        return self._row(step)

    def write_curves(self) -> None:
        write_text_atomic(self.out / "curves.csv", curves_csv_text(self.rows))
        write_curves_png(self.rows, self.out / "curves.png")

    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """last.ckpt (all ranks take part), then model.ckpt and the curves on rank 0."""
        last = self.out / "last.ckpt"
        if not trainer.is_global_zero:
            trainer.save_checkpoint(last, weights_only=False)  # a collective call; only rank 0 writes
            return
        with atomic_path(last, overwrite=True) as tmp:
            trainer.save_checkpoint(tmp, weights_only=False)  # full: weights, optimizer, loops (resume)
        net = pl_module.ema.shadow
        content = model_file(net.model, net.process, self.data, {"step": trainer.global_step})
        with atomic_path(self.out / "model.ckpt", overwrite=True) as path:
            torch.save(content, path)
        self.write_curves()


__all__ = ["COLUMNS", "RunFiles", "curves_csv_text", "read_curves", "write_curves_png"]
