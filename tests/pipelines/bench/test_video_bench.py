"""`bench video`: baselines and tiny untrained model files on one tiny test store; rows agree with the
`video baseline` / `video predict` + `score_frames` path, bad stores and models are refused before any work."""
import csv
import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.domains.video.zarr_store import open_video_store, write_video_store
from sciffusion.pipelines.bench.video import FIELDS, PeakMemory, VideoBenchConfig, format_table, run_video_bench
from sciffusion.pipelines.video.evaluate import score_frames
from sciffusion.domains.video.testing import write_tiny_model as _model

CONTEXT, HORIZON = 3, 4


def _store(path, split="test", clips=4, size=16, frames=CONTEXT + HORIZON):
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (clips, frames, size, size, 1), dtype=np.uint8)
    video[:, 1:] = video[:, :1] // 2 + video[:, 1:] // 2  # some temporal correlation
    write_video_store(path, video, {"fps": 10.0, "split": split})
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vbench")
    return {"root": root, "data": _store(root / "test.zarr"), "st": _model(root / "st.ckpt"),
            "cc": _model(root / "cc.ckpt", arch="concat")}


def _cfg(files, out, **kw):
    base = dict(data=files["data"], models=(("st", files["st"]), ("cc", files["cc"])), out=out, context=CONTEXT,
                horizon=HORIZON, samples=2, clips=3, sampler="euler", steps=2, seed=1, batch_size=2, train_batch=2,
                train_repeats=1)
    return VideoBenchConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def bench(files):
    cfg = _cfg(files, files["root"] / "out")
    logged = []
    return cfg, run_video_bench(cfg, log=logged.append, progress=True), logged


def test_one_row_per_method_with_k_and_costs(bench):
    cfg, rows, logged = bench
    assert [(r["method"], r["arch"], r["K"], r["clips"]) for r in rows] == [
        ("copy-last", "baseline", 1, 3), ("linear", "baseline", 1, 3), ("st", "spacetime", 2, 3),
        ("cc", "concat", 2, 3)]
    for r in rows[:2]:
        assert r["params"] == 0 and math.isnan(r["train_step_s"]) and math.isnan(r["peak_mem_mb"])
    for r in rows[2:]:
        assert r["params"] > 1000 and r["train_step_s"] > 0 and r["sample_s_per_clip"] > 0 and r["peak_mem_mb"] >= 0
    assert all(math.isnan(r["fvd"]) and r["fvd_clips"] == 0 for r in rows)
    table = format_table(rows).splitlines()
    assert " K " in table[0] and len(table) == 5 and table[3].startswith("st")
    assert any(line.startswith("  st: 2/3 clips") for line in logged)


def test_files_are_written(bench):
    cfg, rows, _ = bench
    with open(cfg.out / "video_bench.csv") as fh:
        reader = csv.DictReader(fh)
        table = list(reader)
    assert reader.fieldnames == FIELDS and [r["K"] for r in table] == ["1", "1", "2", "2"]
    assert table[0]["fvd"] == "" and table[0]["train_step_s"] == "" and float(table[2]["train_step_s"]) > 0
    with open(cfg.out / "per_frame.csv") as fh:
        frames = list(csv.DictReader(fh))
    assert [f["frame"] for f in frames if f["method"] == "cc"] == ["4", "5", "6", "7"] and len(frames) == 16
    config = json.loads((cfg.out / "config.json").read_text())
    assert config["models"] == [["st", str(cfg.models[0][1])], ["cc", str(cfg.models[1][1])]]
    assert config["model_files"]["cc"]["arch"] == "concat" and config["store_split"] == "test"
    assert (cfg.out / "ssim_per_frame.png").stat().st_size > 1000


def test_copy_last_row_matches_video_baseline_and_score_frames(bench, files, tmp_path):
    from sciffusion.pipelines.video.baseline import BaselineConfig, run_baseline

    cfg, rows, _ = bench
    pred = open_video_store(run_baseline(BaselineConfig(data=files["data"], out=tmp_path / "copy.zarr",
                                                        context=CONTEXT, horizon=HORIZON, method="copy-last")),
                            kind="prediction").video[:3]
    truth = open_video_store(files["data"]).video[:3, CONTEXT:CONTEXT + HORIZON]
    scores = score_frames(pred, truth, reduce="best")
    assert rows[0]["psnr"] == pytest.approx(float(scores.psnr.mean()), rel=1e-12)
    assert rows[0]["ssim"] == pytest.approx(float(scores.ssim.mean()), rel=1e-12)
    assert rows[1]["psnr"] != pytest.approx(rows[0]["psnr"])  # linear is another method, not a copy


def test_model_row_matches_video_predict_with_the_same_seed(bench, files, tmp_path):
    from sciffusion.domains.video.sampling import SamplingConfig
    from sciffusion.pipelines.video.predict import PredictConfig, predict
    from sciffusion.pipelines.video.sampling_run import SamplingRun

    cfg, rows, _ = bench
    run = SamplingRun(model=files["cc"], sampling=SamplingConfig(sampler="euler", steps=2), seed=1, batch_size=2)
    predict(PredictConfig(input=files["data"], out=tmp_path / "p.gif", run=run, context=CONTEXT, frames=HORIZON,
                          samples=2, clips=3, store=tmp_path / "p.zarr", compare_clips=1))
    pred = open_video_store(tmp_path / "p.zarr", kind="prediction").video[...]
    scores = score_frames(pred, open_video_store(files["data"]).video[:3, CONTEXT:], reduce="best")
    assert rows[3]["psnr"] == pytest.approx(float(scores.psnr.mean()), rel=1e-9)
    assert rows[3]["ssim"] == pytest.approx(float(scores.ssim.mean()), rel=1e-9)


def test_a_training_split_store_is_refused_in_one_line(files, tmp_path):
    store = _store(tmp_path / "train.zarr", split="train")
    with pytest.raises(ValueError, match="training-split") as info:
        run_video_bench(_cfg(files, tmp_path / "out", data=store), log=lambda s: None)
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


def test_a_model_trained_on_the_same_clips_under_another_name_is_refused(files, tmp_path):
    """The model file records its stores' content fingerprints (video train); a copy of the training
    store under another path and without a split attr is still refused, other clips are not."""
    import shutil

    import torch

    from sciffusion.domains.video.zarr_store import open_video_store, video_fingerprint

    train = _store(tmp_path / "train.zarr", split="train")
    copy = tmp_path / "renamed_copy.zarr"
    shutil.copytree(train, copy)
    group = __import__("zarr").open_group(str(copy), mode="r+")
    group.attrs.update({**group.attrs.asdict(), "split": None})
    model = _model(tmp_path / "m.ckpt")
    saved = torch.load(model, weights_only=False)
    saved["meta"].update(data={"train": str(train)}, data_fingerprints={
        "train": video_fingerprint(open_video_store(train)), "val": None})
    torch.save(saved, model)
    with pytest.raises(ValueError, match=r"--model m=.*: was trained on these clips \(.*renamed_copy\.zarr holds the same "
                                         r"clips as its train store") as info:
        run_video_bench(_cfg(files, tmp_path / "out", data=copy, models=(("m", model),)), log=lambda s: None)
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()
    other = _store(tmp_path / "other.zarr", clips=5)  # other clips: the fingerprint differs
    assert video_fingerprint(open_video_store(other)) != video_fingerprint(open_video_store(copy))


def test_a_model_of_another_frame_size_is_refused(files, tmp_path):
    big = _model(tmp_path / "big.ckpt", size=32)
    with pytest.raises(ValueError, match=r"32x32x1 frames, .* holds 16x16x1"):
        run_video_bench(_cfg(files, tmp_path / "out", models=(("big", big),)), log=lambda s: None)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kw,message", [
    ({"models": ()}, "at least one"), ({"models": (("linear", "st"),)}, "distinct"),
    ({"models": (("a", "st"), ("a", "cc"))}, "distinct"), ({"context": 1}, "--context"),
    ({"samples": 0}, "--samples"), ({"fvd_clips": 1}, "--fvd-clips"), ({"sampler": "nope"}, "--sampler"),
    ({"clips": 0}, "--clips"), ({"fvd_clips": 2, "horizon": 4}, "context [+] horizon >= 9"),
])
def test_config_rejects_bad_values(files, tmp_path, kw, message):
    if "models" in kw:
        kw = {"models": tuple((name, files[key]) for name, key in kw["models"])}
    with pytest.raises(ValueError, match=message):
        _cfg(files, tmp_path / "out", **kw)


def test_a_missing_model_file_is_refused(files, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        _cfg(files, tmp_path / "out", models=(("m", tmp_path / "absent.ckpt"),))


def test_fvd_embeds_the_truth_once_for_all_methods(files, tmp_path, monkeypatch):
    """A stand-in for I3D (per-frame channel means) counts the clips it embeds: 3 real + 3 per method."""
    from sciffusion.domains.video.metrics import i3d
    from sciffusion.domains.video.metrics.fvd import extract_features, fvd_from_features

    seen = []

    def fake_i3d(x):  # [B, 3, T, 224, 224] -> [B, 3 T]
        seen.append(len(x))
        return x.mean(dim=(3, 4)).flatten(1)

    monkeypatch.setattr(i3d, "load_i3d", lambda weights=None: fake_i3d)
    data = _store(tmp_path / "long.zarr", frames=CONTEXT + 6)
    rows = run_video_bench(_cfg(files, tmp_path / "out", data=data, horizon=6, fvd_clips=3, clips=4),
                           log=lambda s: None)
    assert sum(seen) == 3 + 4 * 3 and [r["fvd_clips"] for r in rows] == [3, 3, 3, 3]
    truth = open_video_store(data).video[:3]
    copy_last = np.concatenate([truth[:, :CONTEXT], np.repeat(truth[:, CONTEXT - 1:CONTEXT], 6, axis=1)], axis=1)
    expected = fvd_from_features(extract_features(fake_i3d, truth), extract_features(fake_i3d, copy_last))
    assert rows[0]["fvd"] == pytest.approx(expected) and all(math.isfinite(r["fvd"]) for r in rows)


def test_peak_memory_sees_a_cpu_allocation():
    """In a fresh process (in the full suite, earlier tests leave freed memory that malloc may reuse
    without any change of RSS): a 48 MiB block allocated inside the block is seen, a block allocated
    before it is not (negative control)."""
    import subprocess
    import sys

    code = ("import numpy as np, torch\n"
            "from sciffusion.pipelines.bench.video import PeakMemory, keep_mmap_threshold\n"
            "keep_mmap_threshold()\n"
            "before = np.ones(48 * 2**20, np.uint8)\n"
            "with PeakMemory(torch.device('cpu')) as idle:\n    pass\n"
            "with PeakMemory(torch.device('cpu')) as mem:\n    block = np.ones(48 * 2**20, np.uint8)\n"
            "print(idle.mib, mem.mib, int(block[-1] + before[-1]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    idle, seen, check = float(out[-3]), float(out[-2]), int(out[-1])
    assert 40 <= seen < 1000 and idle < 8 and check == 2


def test_cli_end_to_end_without_fvd(files, tmp_path):
    out = tmp_path / "cli"
    args = ["bench", "video", "--data", str(files["data"]), "--model", f"st={files['st']}", "--out", str(out),
            "--context", str(CONTEXT), "--horizon", str(HORIZON), "--samples", "1", "--clips", "2", "--sampler",
            "euler", "--steps", "1", "--fvd-clips", "0", "--batch-size", "2", "--train-batch", "2", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "copy-last" in result.output and "wrote" in result.output and "st: " not in result.output
    with open(out / "video_bench.csv") as fh:
        assert [r["method"] for r in csv.DictReader(fh)] == ["copy-last", "linear", "st"]
    bad = CliRunner().invoke(app, [*args[:5], "st", *args[6:]])
    assert bad.exit_code == 2 and "--model: expected NAME=PATH" in bad.output


def test_a_model_may_run_twice_with_and_without_a_warm_start(tmp_path):
    from sciffusion.pipelines.bench.video import VideoBenchConfig

    path = tmp_path / "m.ckpt"
    path.write_bytes(b"x")
    cfg = VideoBenchConfig(data=tmp_path / "d.zarr", models=(("cold", path), ("warm", path)), out=tmp_path / "o",
                           init_sigmas=(("warm", 0.2),))
    assert cfg.sampling_for("cold").init_sigma is None and cfg.sampling_for("warm").init_sigma == 0.2
    with pytest.raises(ValueError, match="not a model of this run"):
        VideoBenchConfig(data=tmp_path / "d.zarr", models=(("cold", path),), out=tmp_path / "o",
                         init_sigmas=(("warm", 0.2),))
    with pytest.raises(ValueError, match="--init-sigma: must be in"):
        VideoBenchConfig(data=tmp_path / "d.zarr", models=(("cold", path),), out=tmp_path / "o",
                         init_sigmas=(("cold", -1.0),))


def test_model_spec_parsing():
    from pathlib import Path

    from sciffusion.cli.bench import _video_model

    assert _video_model("a=m.ckpt") == ("a", Path("m.ckpt"), None)
    assert _video_model("b=m.ckpt@init-sigma=0.1") == ("b", Path("m.ckpt"), 0.1)
    for bad in ("m.ckpt", "b=m.ckpt@init-sigma=x", "b=m.ckpt@steps=3"):
        with pytest.raises(ValueError, match="--model: expected"):
            _video_model(bad)


def test_a_model_without_a_given_warm_start_takes_its_files_recommendation(files, tmp_path):
    """As `video predict` without options: a file recommending a warm start is sampled with it unless the
    command line gives one (@init-sigma=S, 0 = none); a file recommending none stays cold; the effective
    warm starts are in config.json and the taken ones are said. The recommended row equals the explicit one."""
    content = torch.load(files["st"], weights_only=True)
    content["meta"] = {**content["meta"], "predict": {"init_sigma": 0.3}}
    rec = tmp_path / "rec.ckpt"
    torch.save(content, rec)
    out = tmp_path / "o"
    logged = []
    cfg = _cfg(files, out, models=(("rec", rec), ("given", rec), ("cold", rec), ("plain", files["st"])),
               init_sigmas=(("given", 0.3), ("cold", 0.0)), samples=1)
    rows = {r["method"]: r for r in run_video_bench(cfg, log=logged.append)}
    config = json.loads((out / "config.json").read_text())
    assert config["init_sigmas"] == {"rec": 0.3, "given": 0.3, "cold": None, "plain": None}
    assert [line for line in logged if line.startswith("note:")] == [
        "note: rec: warm start 0.3 from its model file (the setting video predict takes; rec=PATH@init-sigma=0 "
        "for none)"]
    assert rows["rec"]["ssim"] == rows["given"]["ssim"] and rows["rec"]["psnr"] == rows["given"]["psnr"]
    assert rows["rec"]["psnr"] != rows["cold"]["psnr"]  # the warm start changes the prediction


def test_model_spec_zero_warm_start_means_cold():
    from pathlib import Path

    from sciffusion.cli.bench import _video_model

    assert _video_model("c=m.ckpt@init-sigma=0") == ("c", Path("m.ckpt"), 0.0)
