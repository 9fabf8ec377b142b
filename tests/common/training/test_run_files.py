"""Run files: curves.csv round trip and resume cut, panels of curves.png, atomic writes that leave the
previous file and no temporary behind on an error, the resume checks, and a tiny fit through
``step_trainer`` + ``RunFiles`` (rows, val rows, files)."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sciffusion.common.anomaly.networks import ResidualMLP
from sciffusion.common.training import DiffusionModule, TimeBudget, TrainConfig
from sciffusion.common.training.run_files import (RunFiles, check_run_dir, curve_columns, curves_csv_text,
                                                  read_curves, write_curves_png)
from sciffusion.common.training.trainer import check_batches_per_process, check_devices, step_trainer

METRICS = ("loss", "loss_a", "loss_b")


def _png_width(path: Path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[16:20])[0]  # IHDR width


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_curves_csv_round_trip_keeps_rows_up_to_the_resume_step(tmp_path):
    rows = [{"step": 1, "train_loss": 0.5, "train_loss_a": 0.25},
            {"step": 2, "train_loss": 0.4, "val_loss": 0.45, "val_loss_b": None, "ignored": 9},
            {"step": 3, "train_loss": 0.3}]
    columns = curve_columns(METRICS)
    assert columns == ("step", "train_loss", "train_loss_a", "train_loss_b", "val_loss", "val_loss_a", "val_loss_b")
    path = tmp_path / "curves.csv"
    path.write_text(curves_csv_text(rows, columns))
    assert path.read_text().splitlines()[0] == ",".join(columns)
    back = read_curves(path, up_to_step=2)
    assert [r["step"] for r in back] == ["1", "2"]
    assert back[0] == {"step": "1", "train_loss": "0.5", "train_loss_a": "0.25", "train_loss_b": "",
                       "val_loss": "", "val_loss_a": "", "val_loss_b": ""}
    assert float(back[1]["val_loss"]) == 0.45 and back[1]["val_loss_b"] == "" and "ignored" not in back[1]
    assert read_curves(tmp_path / "missing.csv", 10) == []


def test_curves_png_has_one_panel_per_logged_metric(tmp_path):
    rows = [{"step": 1, "train_loss": 1.0, "train_loss_a": 0.5}, {"step": 2, "val_loss": 0.8, "val_loss_a": 0.0}]
    write_curves_png(rows, METRICS, tmp_path / "two.png", panel_width=3.0)  # loss_b never logged
    assert _png_width(tmp_path / "two.png") == 2 * 3 * 80  # 80 dpi
    write_curves_png([], METRICS, tmp_path / "none.png", panel_width=4.0)  # nothing yet: the first metric
    assert _png_width(tmp_path / "none.png") == 4 * 80


def test_a_failed_png_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "curves.png"
    path.write_bytes(b"previous")

    def broken_savefig(self, fname, **kwargs):
        Path(fname).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        write_curves_png([{"step": 1, "train_loss": 1.0}], ("loss",), path)
    assert path.read_bytes() == b"previous" and _leftovers(tmp_path) == []


def _fake_trainer(step: int) -> SimpleNamespace:
    def save_checkpoint(path, weights_only=False):
        Path(path).write_bytes(f"checkpoint {step}".encode())

    return SimpleNamespace(is_global_zero=True, global_step=step, save_checkpoint=save_checkpoint)


def test_save_writes_every_file_and_a_failing_model_file_keeps_the_previous_one(tmp_path):
    files = RunFiles(tmp_path, lambda module, step: {"step": step}, log_every=1, checkpoint_every=1)
    files.rows = [{"step": 3, "train_loss": 0.7}]
    files.save(_fake_trainer(3), pl_module=None)
    assert torch.load(tmp_path / "model.ckpt", weights_only=True) == {"step": 3}
    assert (tmp_path / "last.ckpt").read_bytes() == b"checkpoint 3"
    assert read_curves(tmp_path / "curves.csv", 3)[0]["train_loss"] == "0.7" and (tmp_path / "curves.png").is_file()

    def failing(module, step):
        raise RuntimeError("model file broke")

    files.model_file = failing
    with pytest.raises(RuntimeError, match="model file broke"):
        files.save(_fake_trainer(4), pl_module=None)
    assert torch.load(tmp_path / "model.ckpt", weights_only=True) == {"step": 3}
    assert _leftovers(tmp_path) == []


def test_check_run_dir_refuses_a_used_dir_and_a_changed_section(tmp_path):
    resolved = {"model": {"width": 4}, "data": {"size": 8}}
    assert check_run_dir(tmp_path, False, resolved, ("model",)) is None  # empty: a fresh start
    (tmp_path / "config.json").write_text(json.dumps({"config": resolved}))
    with pytest.raises(ValueError, match="already holds a run \\(config.json\\); pass --resume"):
        check_run_dir(tmp_path, False, resolved, ("model",))
    assert check_run_dir(tmp_path, True, resolved, ("model",)) is None  # resume without last.ckpt: afresh
    (tmp_path / "last.ckpt").write_bytes(b"x")
    assert check_run_dir(tmp_path, True, resolved, ("model", "data")) == tmp_path / "last.ckpt"
    changed = {"model": {"width": 4}, "data": {"size": 16}}
    assert check_run_dir(tmp_path, True, changed, ("model",)) == tmp_path / "last.ckpt"
    with pytest.raises(ValueError, match="different 'data' config"):
        check_run_dir(tmp_path, True, changed, ("model", "data"))


@pytest.mark.parametrize("accelerator, devices, message", [("tpu", "auto", "--accelerator"), ("cpu", "0", "--devices"),
                                                           ("cpu", "two", "--devices")])
def test_check_devices_errors_name_the_flag(accelerator, devices, message):
    with pytest.raises(ValueError, match=message):
        check_devices(accelerator, devices)


def test_a_predict_loop_needs_a_batch_for_every_process():
    check_batches_per_process(4, 2, 2, "clips")  # 4 processes, 4 batches
    check_batches_per_process(1, [3], 1, "clips")  # one pinned GPU
    check_batches_per_process(1, "auto", 4, "clips")  # Lightning decides
    with pytest.raises(ValueError, match=r"^--devices/--num-nodes: 4 processes but only 3 batch\(es\) of ligands"):
        check_batches_per_process(3, 2, 2, "ligands")
    with pytest.raises(ValueError, match="2 processes but only 1 batch"):
        check_batches_per_process(1, [0, 1], 1, "clips")


def test_step_trainer_fits_through_run_files(tmp_path):
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)  # 2 batches per epoch
    files = RunFiles(tmp_path, lambda module, step: {"step": step}, log_every=2, checkpoint_every=2)
    trainer, budget = step_trainer([files], accelerator="cpu", devices="1", max_steps=5, minutes=10.0, val_every=2,
                                   progress=False)
    assert isinstance(budget, TimeBudget) and budget in trainer.callbacks and files in trainer.callbacks
    trainer.fit(DiffusionModule(ResidualMLP(2, 8, 1), TrainConfig()), loader, loader)
    assert trainer.global_step == 5
    assert [int(r["step"]) for r in files.rows] == [2, 4]
    assert files.validated(2) and files.validated(4) and not files.validated(5)
    assert all(r["train_loss"] > 0 and r["val_loss"] > 0 for r in files.rows)
    assert torch.load(tmp_path / "model.ckpt", weights_only=True) == {"step": 4}
    assert [int(r["step"]) for r in read_curves(tmp_path / "curves.csv", 10)] == [2, 4]

    no_val, none = step_trainer([], accelerator="cpu", devices="auto", max_steps=None, minutes=None, val_every=None,
                                progress=False)
    assert none is None and no_val.max_steps == -1 and no_val.limit_val_batches == 0
