"""The files of a training run directory and the callback that keeps them current.

RUN_DIR/last.ckpt   Lightning checkpoint (weights, EMA, optimiser, step, loops) for ``--resume``
RUN_DIR/model.ckpt  the pipeline's model file (``model_file(pl_module, step) -> dict``, saved with ``torch.save``)
RUN_DIR/curves.csv  step, train metrics (mean over the last ``log_every`` steps), val metrics
RUN_DIR/curves.png  the same, log scale, one panel per metric
RUN_DIR/config.json written by the pipeline; :func:`check_run_dir` compares a resume against it

Every write is atomic (a temporary sibling renamed into place), so a run killed at any moment leaves
the previous complete files; a resumed run keeps the curve rows up to its checkpoint's step.
Generic over the metric names (``loss``, ``loss_r3``, ...) and the model file; the docking and video
pipelines plug in their own.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import pytorch_lightning as pl
import torch

from sciffusion.common.io.atomic import atomic_path, write_text_atomic

RUN_FILES = ("last.ckpt", "model.ckpt", "config.json", "curves.csv")
"""Files whose presence marks RUN_DIR as used (a new run there needs ``--resume``)."""


def check_run_dir(out: Path, resume: bool, resolved: Mapping[str, Any], matched_sections: Sequence[str],
                  normalise: Optional[Callable[[dict], Mapping[str, Any]]] = None) -> Optional[Path]:
    """The checkpoint to resume from (None: a fresh start). Refuses a used ``out`` without ``resume``, and
    a resume whose ``matched_sections`` of ``resolved`` differ from the ``config`` saved in config.json.
    ``normalise`` maps the saved config to the resolved form first (it fills settings added, with their
    defaults, since the run started, so that an older run can still be resumed); if it fails on the
    saved config, the config is compared as saved."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    if present and not resume:
        raise ValueError(f"{out}: already holds a run ({', '.join(present)}); pass --resume to continue it "
                         "or choose another --out")
    last = out / "last.ckpt"
    if not (resume and last.is_file()):
        return None
    saved_path = out / "config.json"
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text()).get("config", {})
        if normalise is not None:
            try:
                saved = normalise(saved)
            except (ValueError, TypeError, KeyError):
                pass
        for section in matched_sections:
            if saved.get(section) != resolved[section]:
                raise ValueError(f"{saved_path}: --resume with a different '{section}' config than the saved run")
    return last


def curve_columns(metrics: Sequence[str]) -> tuple[str, ...]:
    """curves.csv's header: ``step``, then ``train_<metric>`` and ``val_<metric>`` for each metric."""
    return ("step",) + tuple(f"train_{m}" for m in metrics) + tuple(f"val_{m}" for m in metrics)


def read_curves(path: Path, up_to_step: int) -> list[dict[str, str]]:
    """Rows of an existing curves.csv with step <= ``up_to_step`` (a resumed run continues them)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("step", "").isdigit()
                and int(row["step"]) <= up_to_step]


def curves_csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The CSV text of ``rows`` under ``columns``; a missing or None value is an empty cell."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue()


def _points(rows: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) of the rows with a finite, positive ``key`` (a log axis shows nothing else)."""
    pts = []
    for r in rows:
        if r.get(key) in (None, ""):
            continue
        value = float(r[key])
        if math.isfinite(value) and value > 0:
            pts.append((int(r["step"]), value))
    return pts


def write_curves_png(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], path: Path,
                     panel_width: float = 4.0) -> None:
    """Train and val curves per metric against the step (log y), one ``panel_width`` x 3 inch panel per
    metric that has a value in some row (the first metric when none has; e.g. a rigid docking run logs no
    torsion loss)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def present(metric: str) -> bool:
        return any(r.get(f"{split}_{metric}") not in (None, "") for r in rows for split in ("train", "val"))

    shown = [m for m in metrics if present(m)] or list(metrics[:1])
    fig = Figure(figsize=(panel_width * len(shown), 3))
    FigureCanvasAgg(fig)
    for i, metric in enumerate(shown):
        ax = fig.add_subplot(1, len(shown), i + 1)
        for split, style in (("train", "-"), ("val", "o-")):
            pts = _points(rows, f"{split}_{metric}")
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
    Reads ``train/<metric>`` and ``val/<metric>`` from the logged metrics. ``model_file(pl_module, step)``:
    the content of model.ckpt. ``log_every`` / ``checkpoint_every``: optimizer steps between train rows
    of the curves and between writes of the checkpoints. ``panel_width``: inches per plot panel."""

    def __init__(self, out: Path, model_file: Callable[[pl.LightningModule, int], dict], log_every: int,
                 checkpoint_every: int, metrics: Sequence[str] = ("loss",), panel_width: float = 4.0) -> None:
        self.out, self.model_file = Path(out), model_file
        self.log_every, self.checkpoint_every, self.metrics = log_every, checkpoint_every, tuple(metrics)
        self.columns = curve_columns(self.metrics)
        self.panel_width = panel_width
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

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Ctrl-C (SIGINT) saves the run files at the step reached, so ``--resume`` loses nothing since
        the last optimizer step (a kill, SIGKILL, loses what came after the last ``checkpoint_every``
        write). One process only: with several, a collective save could wait on a rank that has stopped."""
        if isinstance(exception, KeyboardInterrupt) and trainer.world_size == 1 and trainer.global_step > 0:
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

    def validated(self, step: int) -> bool:
        """Whether the curves hold a val row (``val_<first metric>``) at ``step``."""
        key = f"val_{self.metrics[0]}"
        return any(int(r["step"]) == step and r.get(key) not in (None, "") for r in self.rows)

    def write_curves(self) -> None:
        write_text_atomic(self.out / "curves.csv", curves_csv_text(self.rows, self.columns))
        write_curves_png(self.rows, self.metrics, self.out / "curves.png", self.panel_width)

    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """last.ckpt (all ranks take part), then model.ckpt and the curves on rank 0."""
        last = self.out / "last.ckpt"
        if not trainer.is_global_zero:
            trainer.save_checkpoint(last, weights_only=False)  # a collective call; only rank 0 writes
            return
        with atomic_path(last, overwrite=True) as tmp:
            trainer.save_checkpoint(tmp, weights_only=False)  # full: weights, optimizer, loops (resume)
        with atomic_path(self.out / "model.ckpt", overwrite=True) as path:
            torch.save(self.model_file(pl_module, trainer.global_step), path)
        self.write_curves()


__all__ = ["RUN_FILES", "RunFiles", "check_run_dir", "curve_columns", "curves_csv_text", "read_curves",
           "write_curves_png"]
