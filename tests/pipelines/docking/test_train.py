"""``docking train`` on a tiny cache (the two bundled complexes, copied under four ids): every run file,
finite losses, weights-only model file, resume continues the step count and the curves, the public
test split and excluded ids are refused, config errors are one line."""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.common.io.checkpoint import load_checkpoint
from sciffusion.domains.docking.pose_diffusion import model_from_file
from sciffusion.pipelines.docking.prepare import PrepareConfig, run_prepare
from sciffusion.pipelines.docking.train import TrainRunConfig, run_train
from sciffusion.pipelines.docking.train_config import DockTrainConfig, bundled_config, load_train_config

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
TINY = {"model": {"scalar_channels": 4, "vector_channels": 2, "sigma_frequencies": 2, "distance_embed_dim": 4,
                  "max_neighbors": 8},
        "data": {"receptor_radius": 12.0},
        "schedule": {"batch_size": 2, "max_steps": 3, "val_every": 2, "checkpoint_every": 2, "log_every": 1,
                     "val_batch_size": 2}}
SPLITS = {"A": "train", "B": "train", "C": "train", "D": "val"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_cache")
    index = root / "prep.csv"
    index.write_text("id,protein,ligand,pocket_ligand\n" + "".join(
        f"{n},{DATA}/{n}_pocket.pdb.gz,{DATA}/{n}_ligand.sdf,{DATA}/{n}_ligand.sdf\n"
        for n in ("6YQW_82I", "6XG5_TOP")))
    run_prepare(PrepareConfig(index=index, out=root / "prepared", conformers=2, conformer_refine_steps=5))
    out = root / "cache"
    out.mkdir()
    for cid, source in zip(SPLITS, ("6YQW_82I", "6XG5_TOP", "6YQW_82I", "6XG5_TOP")):
        entry = torch.load(root / "prepared" / f"{source}.pt", weights_only=True)
        entry["id"] = cid
        torch.save(entry, out / f"{cid}.pt")
    return out


def _index(tmp_path: Path, splits: dict[str, str] = SPLITS) -> Path:
    path = tmp_path / "index.csv"
    path.write_text("id,protein,ligand,split\n" + "".join(
        f"{cid},{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/6YQW_82I_ligand.sdf,{split}\n" for cid, split in splits.items()))
    return path


def _config(**schedule) -> DockTrainConfig:
    return DockTrainConfig.from_dict({**TINY, "schedule": {**TINY["schedule"], **schedule}})


def _curves(run: Path) -> list[dict]:
    with open(run / "curves.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_tiny_training_writes_every_file_and_resume_continues(tmp_path, cache):
    run = tmp_path / "run"
    cfg = TrainRunConfig(cache=cache, index=_index(tmp_path), out=run, config=_config(), progress=False)
    summary = run_train(cfg)
    assert summary["steps"] == 3 and summary["stopped"] == "steps" and (summary["train"], summary["val"]) == (3, 1)
    for name in ("last.ckpt", "model.ckpt", "config.json", "curves.csv", "curves.png"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    rows = _curves(run)
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    for row in rows:
        for part in ("", "_r3", "_so3", "_torus"):
            assert math.isfinite(float(row[f"train_loss{part}"]))
    assert all(math.isfinite(float(rows[i][f"val_loss{p}"])) for i in (1, 2) for p in ("", "_r3", "_so3", "_torus"))
    saved = json.loads((run / "config.json").read_text())
    assert saved["splits"]["train"]["ids"] == ["A", "B", "C"] and saved["splits"]["val"]["count"] == 1
    assert len(saved["splits"]["train"]["sha256"]) == 64
    assert DockTrainConfig.from_dict(saved["config"]) == _config()
    content = load_checkpoint(run / "model.ckpt")  # weights-only
    model, process, data = model_from_file(content, "model.ckpt")
    assert content["extra"]["step"] == 3 and model.config.scalar_channels == 4 and data["receptor_radius"] == 12.0
    # a used RUN_DIR needs --resume
    with pytest.raises(ValueError, match="already holds a run"):
        run_train(cfg)
    # resume: the step count and the curves continue
    resumed = run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=run, config=_config(max_steps=5),
                                       resume=True, progress=False))
    assert resumed["steps"] == 5
    assert [int(r["step"]) for r in _curves(run)] == [1, 2, 3, 4, 5]
    assert load_checkpoint(run / "model.ckpt")["extra"]["step"] == 5
    # resuming with another model is refused
    other = DockTrainConfig.from_dict({**TINY, "model": {**TINY["model"], "scalar_channels": 6}})
    with pytest.raises(ValueError, match="different 'model' config"):
        run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=run, config=other, resume=True,
                                 progress=False))


def test_public_test_split_and_excluded_ids_are_refused(tmp_path, cache):
    index = _index(tmp_path, {**SPLITS, "E": "test_public"})
    with pytest.raises(ValueError, match=r"1 row\(s\) of split test_public \(first: E\)"):
        run_train(TrainRunConfig(cache=cache, index=index, out=tmp_path / "r1", config=_config(), progress=False))
    exclude = tmp_path / "test_public.txt"
    exclude.write_text("X\nD\n")
    with pytest.raises(ValueError, match=r"in train/val \(first: D\)"):
        run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=tmp_path / "r2", config=_config(),
                                 exclude_ids=exclude, progress=False))
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


@pytest.mark.parametrize("content, message", [
    ({"model": {"scalar_chanels": 4}}, "unknown keys ['scalar_chanels']"),
    ({"train": {"lr": -1}}, "lr: must be > 0"),
    ({"schedule": {"batch_size": 0}}, "batch_size: must be >= 1"),
    ({"process": {"r3": {"kind": "euclidean", "sigma_min": 0.1, "sigma_max": 6.0}}}, "pose diffusion needs components"),
    ({"optimizer": {}}, "unknown sections ['optimizer']"),
])
def test_config_errors_are_one_line(tmp_path, cache, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    result = CliRunner().invoke(app, ["docking", "train", "--cache", str(cache), "--index", str(_index(tmp_path)),
                                      "--out", str(tmp_path / "run"), "--config", str(path), "--no-progress"])
    assert result.exit_code == 2
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and message in lines[0], result.output


def test_bundled_configs_load():
    for name in ("cpu", "gpu", "cpu_rigid", "gpu_rigid"):
        cfg = load_train_config(bundled_config(name))
        assert cfg.product.process.components["r3"].sigma_max == 6.0
        assert ("torus" in cfg.product.process.components) == ("rigid" not in name)
    assert load_train_config(bundled_config("cpu")).schedule.minutes == 60
    with pytest.raises(ValueError, match="no bundled config 'tpu'"):
        bundled_config("tpu")


def test_cli_train_runs_tiny(tmp_path, cache):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    result = CliRunner().invoke(app, ["docking", "train", "--cache", str(cache), "--index", str(_index(tmp_path)),
                                      "--out", str(tmp_path / "run"), "--config", str(path), "--max-steps", "1",
                                      "--batch-size", "3", "--seed", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "trained to step 1 (stopped by steps, 32-true)" in result.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["schedule"]["batch_size"] == 3 and saved["config"]["train"]["seed"] == 4
    assert saved["precision"] == "32-true"
    shutil.rmtree(tmp_path / "run")


def test_bf16_mixed_training_runs_and_is_recorded(tmp_path, cache):
    """bf16 mixed precision (Lightning's autocast over the e3nn score model): finite losses, float32 weights,
    the precision that ran in config.json, the summary and the closing line; a bad value is one line."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["docking", "train", "--cache", str(cache), "--index", str(_index(tmp_path)),
                                      "--out", str(run), "--config", str(path), "--max-steps", "2",
                                      "--precision", "bf16-mixed", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "stopped by steps, bf16-mixed" in result.output
    saved = json.loads((run / "config.json").read_text())
    assert saved["precision"] == "bf16-mixed" and saved["config"]["schedule"]["precision"] == "bf16-mixed"
    rows = _curves(run)
    assert all(math.isfinite(float(r["train_loss"])) for r in rows) and len(rows) == 2
    weights = load_checkpoint(run / "model.ckpt")["state_dict"]
    assert weights and all(w.dtype == torch.float32 for w in weights.values() if w.is_floating_point())
    bad = CliRunner().invoke(app, ["docking", "train", "--cache", str(cache), "--index", str(_index(tmp_path)),
                                   "--out", str(tmp_path / "run2"), "--config", str(path), "--max-steps", "1",
                                   "--precision", "fp8"])
    assert bad.exit_code != 0 and "--precision: must be one of" in bad.output
    assert len(bad.output.strip().splitlines()) == 1 and not (tmp_path / "run2").exists()
    with pytest.raises(ValueError, match="schedule.precision"):
        _config(precision="half")


def test_rigid_process_trains_and_init_from_starts_from_given_weights(tmp_path, cache):
    flexible = tmp_path / "flexible"
    run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=flexible, config=_config(max_steps=1),
                             progress=False))
    rigid_config = DockTrainConfig.from_dict({**TINY, "process": {
        "r3": {"kind": "euclidean", "sigma_min": 0.1, "sigma_max": 6.0},
        "so3": {"kind": "so3", "sigma_min": 0.03, "sigma_max": 1.55}}, "loss": {"weights": {"r3": 1.0, "so3": 1.0}},
        "schedule": {**TINY["schedule"], "max_steps": 1}})
    # lr 1e-30 (below float32 resolution) keeps the initial weights, so the saved model equals the --init-from one
    frozen = DockTrainConfig.from_dict({**rigid_config.to_dict(), "train": {**rigid_config.to_dict()["train"],
                                                                             "lr": 1e-30, "ema_decay": 0.0}})
    run = tmp_path / "rigid"
    summary = run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=run, config=frozen, progress=False,
                                       init_from=flexible / "model.ckpt"))
    assert summary["steps"] == 1
    rows = _curves(run)
    assert rows[0]["train_loss_torus"] == "" and math.isfinite(float(rows[0]["train_loss_so3"]))
    start, _, _ = model_from_file(load_checkpoint(flexible / "model.ckpt"), "flexible")
    model, process, _ = model_from_file(load_checkpoint(run / "model.ckpt"), "rigid")
    assert set(process.components) == {"r3", "so3"}
    assert all(torch.equal(a, b) for a, b in zip(start.state_dict().values(), model.state_dict().values()))
    saved = json.loads((run / "config.json").read_text())
    assert saved["init_from"]["path"] == str(flexible / "model.ckpt") and len(saved["init_from"]["sha256"]) == 64
    # negative control: without --init-from the weights are a fresh initialisation
    fresh = tmp_path / "fresh"
    run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=fresh, config=frozen, progress=False))
    other, _, _ = model_from_file(load_checkpoint(fresh / "model.ckpt"), "fresh")
    assert not all(torch.equal(a, b) for a, b in zip(start.state_dict().values(), other.state_dict().values()))
    # another model size is refused, one line naming the file
    bigger = DockTrainConfig.from_dict({**frozen.to_dict(), "model": {**TINY["model"], "scalar_channels": 6}})
    with pytest.raises(ValueError, match="--init-from model differs from the config's model in \\['scalar_channels'\\]"):
        run_train(TrainRunConfig(cache=cache, index=_index(tmp_path), out=tmp_path / "bad", config=bigger,
                                 progress=False, init_from=flexible / "model.ckpt"))
