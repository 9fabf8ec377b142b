"""The files of a ``video train`` run (last.ckpt, model.ckpt, curves.csv/png): the core's
:mod:`sciffusion.common.training.run_files`, re-exported here under the names this module has always had.
"""
from __future__ import annotations

from sciffusion.common.training.run_files import RunFiles, curves_csv_text, read_curves, write_curves_png

__all__ = ["RunFiles", "curves_csv_text", "read_curves", "write_curves_png"]
