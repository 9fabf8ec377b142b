"""`bench video-label-response`: event windows hold their event in the generated block, a model whose
event embedding is zero responds exactly 0 (negative control) and a random one does not; read as a
classifier the deaf model cannot tell windows apart; bad inputs are one line, the command writes its files."""
import csv

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.domains.video.events import EVENTS, window_event
from sciffusion.domains.video.testing import write_tiny_model
from sciffusion.domains.video.zarr_store import write_video_store
from sciffusion.pipelines.bench.video_label_response import (LabelResponseConfig, event_windows, format_table,
                                                             run_label_response)

FLAGS = ("ego_collision", "other_collision", "cut_in", "near_miss")


def write_store(path, n=12, frames=8, size=16, seed=0):
    """Noise clips; clip c has event c % 4 (0 normal) flagged on one frame, a bright square from then on."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 60, (n, frames, size, size, 3), dtype=np.uint8)
    labels = {name: np.zeros((n, frames), np.uint8) for name in FLAGS}
    for c in range(n):
        if c % 4:
            onset = int(rng.integers(0, frames))
            labels[EVENTS[c % 4]][c, onset] = 1
            video[c, onset:, 4:9, 4:9] = 250
    labels["episode"] = np.arange(n)
    return write_video_store(path, video, {"fps": 10.0, "generator": "toy"}, labels)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("response")
    store = write_store(root / "held_out.zarr")
    random_model = write_tiny_model(root / "random.ckpt", channels=3, events=True)
    content = torch.load(random_model, weights_only=True)
    deaf = {k: (torch.zeros_like(v) if k.startswith("event.") else v) for k, v in content["ema"].items()}
    assert any(k.startswith("event.") for k in deaf)
    torch.save({**content, "ema": deaf}, root / "deaf.ckpt")
    return root, store, random_model, root / "deaf.ckpt"


def test_event_windows_put_the_event_in_the_generated_block(files):
    _, store, _, _ = files
    import zarr

    labels = {n: np.asarray(zarr.open_group(str(store), mode="r")[f"labels/{n}"]) for n in FLAGS}
    windows = event_windows(store, 12, past_frames=2, frames=3, per_event=10)
    assert [len(windows[e]) for e in range(4)] == [3, 3, 3, 3]
    for event, pairs in windows.items():
        for clip, start in pairs:
            clip_labels = {n: a[clip] for n, a in labels.items()}
            if event == 0:
                assert start == 0 and window_event(clip_labels, 0, None) == 0
            elif window_event(clip_labels, 2, None) == event:  # the event is not on the first two frames
                assert window_event(clip_labels, start + 2, start + 5) == event
    assert [len(v) for v in event_windows(store, 12, 2, 3, per_event=1).values()] == [1, 1, 1, 1]


def test_a_deaf_model_responds_zero_and_a_random_one_does_not(files):
    root, store, random_model, deaf = files
    cfg = LabelResponseConfig(models=(("random", random_model), ("deaf", deaf)), data=store, out=root / "out",
                              sigmas=(0.3, 1.0), windows=3, batch_size=2)
    rows = run_label_response(cfg, log=lambda _: None)
    assert len(rows) == 2 * 4 * 2 * 2  # models x events x sigmas x past visible/masked
    deaf_rows = [r for r in rows if r["model"] == "deaf"]
    random_rows = [r for r in rows if r["model"] == "random" and r["event"] != "normal"]
    assert all(r["gain_vs_null"] == 0 and r["gain_vs_normal"] == 0 for r in deaf_rows)  # negative control
    assert all(abs(r["gain_vs_null"]) > 1e-6 for r in random_rows)
    assert all(r["gain_vs_normal"] == 0 for r in rows if r["event"] == "normal")  # its own label
    assert all(0 < r["changed_pixels"] <= 1 and r["mse_null"] > 0 for r in rows)
    with open(root / "out" / "label_response.csv") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    assert (root / "out" / "label_response.png").stat().st_size > 0 and (root / "out" / "config.json").is_file()
    assert "| deaf | ego_collision | 0.3 | visible | 3 | +0.0 |" in format_table(rows)
    # the model read as a classifier: a deaf model cannot tell windows apart (every one 'normal', the first of
    # equal scores); that the labels move the ELBO of a model that hears them is tested with
    # event_log_likelihoods (tests/domains/video/test_model_sampling.py)
    with open(root / "out" / "self_classification.csv") as f:
        read = list(csv.DictReader(f))
    assert [(r["model"], r["event"]) for r in read] == [(m, e) for m in ("random", "deaf") for e in EVENTS]
    for r in read:
        shares = [float(r[f"pred_{e}"]) for e in EVENTS]
        assert sum(shares) == pytest.approx(1) and float(r["recall"]) == float(r[f"pred_{r['event']}"])
        if r["model"] == "deaf":
            assert shares == [1.0, 0.0, 0.0, 0.0]
    assert all(int(r["windows"]) == 3 for r in read)


def test_bad_inputs_are_one_line(files, tmp_path):
    root, store, random_model, _ = files
    plain = write_tiny_model(tmp_path / "plain.ckpt", channels=3)
    runner = CliRunner()
    cases = [
        (["--model", f"p={plain}"], "trained without event labels"),
        (["--model", "bad"], "expected NAME=PATH"),
        (["--model", f"r={random_model}", "--sigmas", "0.3,x"], "--sigmas: expected a comma list of numbers"),
        (["--model", f"r={random_model}", "--sigmas", "0,1"], "--sigmas: need noise levels > 0"),
        (["--model", f"r={write_tiny_model(tmp_path / 'grey.ckpt', events=True)}"], "takes 16x16x1 frames"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["bench", "video-label-response", "--data", str(store), "--out",
                                     str(tmp_path / "o"), "--no-progress", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert not (tmp_path / "o").exists()
    no_labels = write_video_store(tmp_path / "plain.zarr", np.zeros((2, 8, 16, 16, 3), np.uint8), {"fps": 10.0})
    result = runner.invoke(app, ["bench", "video-label-response", "--data", str(no_labels), "--out",
                                 str(tmp_path / "o"), "--model", f"r={random_model}", "--no-progress"])
    assert result.exit_code != 0 and "no event labels" in result.output
    ok = runner.invoke(app, ["bench", "video-label-response", "--data", str(store), "--out", str(tmp_path / "o"),
                             "--model", f"r={random_model}", "--sigmas", "1", "--windows", "2", "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert "| r | cut_in | 1 | masked | 2 |" in ok.output and (tmp_path / "o" / "label_response.csv").is_file()
