"""`bench video-baselines`: copy-last is exact on a still clip, linear on a constant-velocity ramp; files at once."""
import csv
import json
import math

import numpy as np
import pytest

from sciffusion.pipelines.bench.video_baselines import VideoBaselinesConfig, run_video_baselines, score_baseline


def _cfg(tmp_path, **kw):
    return VideoBaselinesConfig(out=tmp_path / "vb", **{"fvd": False, "context": 3, "horizon": 2, **kw})


def test_score_baseline_is_exact_where_the_baseline_is_right(tmp_path):
    cfg = _cfg(tmp_path)
    rng = np.random.default_rng(0)
    still = np.repeat(rng.integers(0, 256, (2, 1, 16, 16, 1), dtype=np.uint8), 5, axis=1)
    row, frames = score_baseline(still, "copy-last", cfg, fvd=None)
    assert row["ssim"] == pytest.approx(1.0) and row["psnr_capped_frames"] == 2 * 2 and math.isnan(row["fvd"])
    assert [f["frame"] for f in frames] == [4, 5]
    ramp = (np.arange(5, dtype=np.uint8) * 20)[None, :, None, None, None] + np.zeros((2, 5, 16, 16, 1), np.uint8)
    row_lin, _ = score_baseline(ramp, "linear", cfg, fvd=None)
    row_copy, _ = score_baseline(ramp, "copy-last", cfg, fvd=None)
    assert row_lin["psnr"] == pytest.approx(100.0) and row_copy["psnr"] < 40


def test_tiny_smmnist_run_writes_every_file(tmp_path):
    cfg = _cfg(tmp_path, datasets=("smmnist",), smmnist_clips=3)
    logged = []
    rows = run_video_baselines(cfg, log=logged.append)
    assert [(r["dataset"], r["method"], r["clips"]) for r in rows] == [("smmnist", "copy-last", 3),
                                                                        ("smmnist", "linear", 3)]
    with open(cfg.out / "baselines.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [r["method"] for r in table] == ["copy-last", "linear"] and table[0]["fvd"] == ""
    assert 0 < float(table[0]["ssim"]) < 1
    with open(cfg.out / "per_frame.csv") as fh:
        assert [r["frame"] for r in csv.DictReader(fh)] == ["4", "5", "4", "5"]
    assert json.loads((cfg.out / "config.json").read_text())["smmnist_clips"] == 3
    assert (cfg.out / "ssim_per_frame.png").stat().st_size > 1000
    assert not (cfg.out / "driving_class_balance.json").exists()
    assert any(line.startswith("smmnist  copy-last") for line in logged)


def test_existing_out_is_refused_before_any_work(tmp_path):
    (tmp_path / "vb").mkdir()
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_video_baselines(_cfg(tmp_path, datasets=("smmnist",), smmnist_clips=2), log=lambda s: None)


@pytest.mark.parametrize("kw,message", [
    ({"context": 1}, "--context"), ({"horizon": 0}, "--horizon"), ({"smmnist_clips": 0}, "--smmnist-clips"),
    ({"datasets": ("kitti",)}, "--datasets"), ({"datasets": ()}, "--datasets"),
    ({"fvd": True, "fvd_clips": 1}, "--fvd-clips"),
])
def test_config_rejects_bad_values(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        _cfg(tmp_path, **kw)
