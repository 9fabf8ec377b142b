"""The files of a training run and the callback that keeps them current.

RUN_DIR/last.ckpt   Lightning checkpoint (weights, EMA, optimiser, step, loops) for ``--resume``
RUN_DIR/model.ckpt  the model file (EMA weights + configs) that ``predict``/``generate`` load
RUN_DIR/curves.csv  step, train loss (mean over the last ``log_every`` steps), val loss (EMA weights,
                    fixed draws)
RUN_DIR/curves.png  the same, log scale

Every write is atomic (a temporary sibling renamed into place), so a run killed at any moment leaves
the previous complete files; a resumed run keeps the curve rows up to its checkpoint's step.
Generic over the metric names and the model file (``model_file(pl_module, step) -> dict``); the
docking pipeline keeps a copy of the same logic (``pipelines/docking/train_files.py``) that could
move to ``common/training`` with this one.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pytorch_lightning as pl
import torch

from sciffusion.common.io.atomic import atomic_path, write_text_atomic


def read_curves(path: Path, up_to_step: int) -> list[dict[str, str]]:
    """Rows of an existing curves.csv with step <= ``up_to_step`` (a resumed run continues them)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step", "").isdigit()
                and int(row["step"]) <= up_to_step]


def curves_csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue()


def write_curves_png(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], path: Path) -> None:
    """Train and val curves per metric against the step (log y), one panel per metric."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(metrics), 3))
    FigureCanvasAgg(fig)
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        for split, style in (("train", "-"), ("val", "o-")):
            pts = [(int(r["step"]), float(r[f"{split}_{metric}"])) for r in rows
                   if r.get(f"{split}_{metric}") not in (None, "") and math.isfinite(float(r[f"{split}_{metric}"]))
                   and float(r[f"{split}_{metric}"]) > 0]
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
    Reads ``train/<metric>`` and ``val/<metric>`` from the logged metrics."""

    def __init__(self, out: Path, model_file: Callable[[pl.LightningModule, int], dict], log_every: int,
                 checkpoint_every: int, metrics: Sequence[str] = ("loss",)) -> None:
        self.out, self.model_file = Path(out), model_file
        self.log_every, self.checkpoint_every, self.metrics = log_every, checkpoint_every, tuple(metrics)
        self.columns = ("step",) + tuple(f"train_{m}" for m in self.metrics) + tuple(f"val_{m}" for m in self.metrics)
        self.rows: list[dict[str, Any]] = []
        self._sums: dict[str, float] = {}
        self._count = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rows = read_curves(self.out / "curves.csv", trainer.global_step)
        self._sums, self._count = {}, 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        logged = trainer.callback_metrics
        for m in self.metrics:
            if f"train/{m}" in logged:
                self._sums[m] = self._sums.get(m, 0.0) + float(logged[f"train/{m}"])
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
        logged = trainer.callback_metrics
        self._row(trainer.global_step).update({f"val_{m}": float(logged[f"val/{m}"]) for m in self.metrics
                                               if f"val/{m}" in logged})
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
        write_text_atomic(self.out / "curves.csv", curves_csv_text(self.rows, self.columns))
        write_curves_png(self.rows, self.metrics, self.out / "curves.png")

    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """last.ckpt (all ranks take part), then model.ckpt and the curves on rank 0."""
        last = self.out / "last.ckpt"
        if not trainer.is_global_zero:
            trainer.save_checkpoint(last, weights_only=False)  # a collective call; only rank 0 writes
            return
        with atomic_path(last, overwrite=True) as tmp:
            trainer.save_checkpoint(tmp, weights_only=False)
        with atomic_path(self.out / "model.ckpt", overwrite=True) as path:
            torch.save(self.model_file(pl_module, trainer.global_step), path)
        self.write_curves()


__all__ = ["RunFiles", "curves_csv_text", "read_curves", "write_curves_png"]
