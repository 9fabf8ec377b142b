"""`bench video-events`: windows follow the priority rule, the classifier learns a toy event and not
shuffled labels, fidelity counts right, bad stores are one line, the command runs end to end.

Toy stores: 16×16 RGB noise (0-69); an event is a 5×5 square, red (ego_collision), green (cut_in) or
blue (near_miss), drawn exactly on the two frames its per-frame flag marks, so a window's label and
what it shows agree.
"""
import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.domains.video.events import EVENTS
from sciffusion.domains.video.zarr_store import write_video_store
from sciffusion.pipelines.bench.video_events import (EventClassifier, EventClassifierConfig, VideoEventsConfig,
                                                     evaluate_classifier, load_event_classifier, load_windows,
                                                     open_generated, rare_event_fidelity, run_video_events,
                                                     train_classifier, window_starts)

COLOURS = {"ego_collision": (255, 40, 40), "cut_in": (40, 255, 40), "near_miss": (40, 40, 255)}
FLAGS = ("ego_collision", "other_collision", "cut_in", "near_miss")
FAST = dict(frames=4, width=16, lr=3e-3, epochs=1000, max_steps=150)  # ~2 s on one loaded core


def toy_clips(n, seed, frames=8, size=16, kinds=None):
    """uint8 [n, frames, size, size, 3] and make-driving-like labels; clip c shows event kinds[c]
    (0 = normal; default c % 4) on two consecutive frames."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 70, (n, frames, size, size, 3), dtype=np.uint8)
    labels = {name: np.zeros((n, frames), np.uint8) for name in FLAGS}
    for c in range(n):
        kind = c % 4 if kinds is None else kinds[c]
        if kind == 0:
            continue
        name = EVENTS[kind]
        onset, (y, x) = int(rng.integers(0, frames - 1)), rng.integers(0, size - 5, 2)
        labels[name][c, onset:onset + 2] = 1
        video[c, onset:onset + 2, y:y + 5, x:x + 5] = COLOURS[name]
    labels["episode"] = np.arange(n)
    return video, labels


def write_toy(path, n, seed, split=None, **kw):
    video, labels = toy_clips(n, seed, **kw)
    attrs = {"fps": 10.0, "seed": seed, "generator": "toy"} | ({} if split is None else {"split": split})
    return write_video_store(path, video, attrs, labels)


def write_generated(path, video, events):
    return write_video_store(path, video, {"fps": 10.0}, {"event": np.asarray(events, np.int64)})


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return write_toy(root / "train.zarr", 96, seed=0), write_toy(root / "test.zarr", 32, seed=1)


@pytest.fixture(scope="module")
def trained(stores):
    train = load_windows(stores[0], frames=4, stride=2)
    return train, train_classifier(train, EventClassifierConfig(**FAST), log=lambda s: None)


def test_window_starts_cover_the_clip_end():
    assert window_starts(8, 4, 2) == [0, 2, 4]
    assert window_starts(9, 4, 2) == [0, 2, 4, 5]
    assert window_starts(4, 4, 3) == [0]


def test_windows_are_labelled_by_the_priority_rule(tmp_path):
    video = np.zeros((1, 8, 16, 16, 3), np.uint8)
    labels = {name: np.zeros((1, 8), np.uint8) for name in FLAGS}
    labels["near_miss"][0, [1, 5]] = 1
    labels["cut_in"][0, 3] = 1
    labels["ego_collision"][0, 6] = 1
    labels["other_collision"][0, :] = 1  # not an event class: never changes a window
    windows = load_windows(write_video_store(tmp_path / "s.zarr", video, {"fps": 10.0}, labels), 2, 2)
    assert windows.start.tolist() == [0, 2, 4, 6]
    # [0,2): near_miss; [2,4): cut_in; [4,6): near_miss; [6,8): collision and nothing else
    assert [EVENTS[k] for k in windows.event] == ["near_miss", "cut_in", "near_miss", "ego_collision"]
    wide = load_windows(tmp_path / "s.zarr", 8, 1)
    assert wide.event.tolist() == [EVENTS.index("ego_collision")]  # all three in one window: collision wins
    x = windows.batch(np.array([3]))
    assert x.shape == (1, 3, 2, 16, 16) and x.min() == -1.0


def test_classifier_is_small_and_takes_any_window_length():
    model = EventClassifier(3, 16)
    assert sum(p.numel() for p in model.parameters()) < 300_000
    for t in (4, 10):
        assert model(torch.zeros(2, 3, t, 64, 64)).shape == (2, len(EVENTS))


def test_classifier_learns_the_toy_events_on_held_out_clips(stores, trained):
    _, model = trained
    report = evaluate_classifier(model, load_windows(stores[1], frames=4, stride=2))
    assert report["balanced_accuracy"] > 0.7 and report["accuracy"] > 0.7  # chance: 0.25
    assert np.array(report["confusion"]).sum() == report["windows"] == 32 * 3
    assert min(report["recall"].values()) > 0.4


def test_classifier_learns_nothing_from_shuffled_labels(stores, trained):
    """Negative control: same windows, labels permuted → held-out balanced accuracy near chance."""
    train, _ = trained
    shuffled = dataclasses.replace(train, event=np.random.default_rng(0).permutation(train.event))
    model = train_classifier(shuffled, EventClassifierConfig(**FAST), log=lambda s: None)
    assert evaluate_classifier(model, load_windows(stores[1], frames=4, stride=2))["balanced_accuracy"] < 0.45


def test_fidelity_high_for_true_events_low_for_mislabelled_normal_clips(tmp_path, trained):
    _, model = trained
    collision = EVENTS.index("ego_collision")
    real, _ = toy_clips(12, seed=5, kinds=[collision] * 12, frames=4)
    normal, _ = toy_clips(12, seed=6, kinds=[0] * 12, frames=4)
    good = rare_event_fidelity(model, write_generated(tmp_path / "good.zarr", real, [collision] * 12), 4, (16, 16, 3))
    bad = rare_event_fidelity(model, write_generated(tmp_path / "bad.zarr", normal, [collision] * 12), 4, (16, 16, 3))
    assert [r["event"] for r in good] == [r["event"] for r in bad] == ["ego_collision"]
    assert good[0]["fidelity"] > 0.8 and bad[0]["fidelity"] < 0.2
    assert bad[0]["pred_normal"] > 0.8


def test_fidelity_counts_with_a_stub_classifier(tmp_path):
    """The stub predicts the class written in pixel (0, 0, 0) of frame 0 as 50 · class."""
    wanted = [1, 1, 1, 2, 2, 3]
    told = [1, 0, 1, 2, 3, 3]
    video = np.zeros((6, 5, 8, 8, 3), np.uint8)
    video[:, 0, 0, 0, 0] = np.array(told) * 50
    store = write_generated(tmp_path / "gen" / "clips.zarr", video, wanted)

    def stub(x):  # [B, C, T, H, W] in [-1, 1]
        told_class = ((x[:, 0, 0, 0, 0] + 1) * 127.5 / 50).round().long()
        return torch.nn.functional.one_hot(told_class, len(EVENTS)).float()

    for path, batch in ((store, 64), (tmp_path / "gen", 2)):  # the folder holding clips.zarr; batched vs not
        rows = {r["event"]: r for r in rare_event_fidelity(stub, path, 4, (8, 8, 3), batch_size=batch)}
        assert list(rows) == ["ego_collision", "cut_in", "near_miss"]
        assert rows["ego_collision"]["clips"] == 3 and rows["ego_collision"]["fidelity"] == pytest.approx(2 / 3)
        assert rows["ego_collision"]["pred_normal"] == pytest.approx(1 / 3)
        assert rows["cut_in"]["fidelity"] == pytest.approx(0.5) and rows["cut_in"]["pred_near_miss"] == 0.5
        assert rows["near_miss"]["fidelity"] == 1.0
        assert all(sum(r[f"pred_{e}"] for e in EVENTS) == pytest.approx(1.0) for r in rows.values())


def test_pixel_rules_judge_generated_clips_beside_the_classifier(tmp_path):
    """rule_fidelity: the share of clips where the event's pixel rule fires (a wreck touching the green ego
    in 3 of 4 collision clips), None for events without a rule; the rules' held-out recall and false
    alarms are read on real windows (toy windows show no ego: recall 0)."""
    video = np.full((6, 4, 64, 64, 3), 100, np.uint8)
    video[:, :, 31:33, 20:24] = (50, 200, 0)  # the ego
    video[:3, 2:, 31:33, 25:29] = (255, 100, 100)  # a wreck beside it in the first three clips
    store = write_generated(tmp_path / "gen.zarr", video, [1, 1, 1, 1, 2, 3])

    def stub(x):
        return torch.zeros(len(x), len(EVENTS))

    video[5, 2, 40:42, 30:34] = (100, 200, 255)  # a vehicle popping into view in the near-miss clip
    rows = {r["event"]: r for r in rare_event_fidelity(stub, store, 4, (64, 64, 3))}
    assert rows["ego_collision"]["rule_fidelity"] == 0.75 and rows["cut_in"]["rule_fidelity"] == 0.0
    assert rows["near_miss"]["rule_fidelity"] is None
    # every rule on every row's clips: the collision rule fires on none of the cut-in clips
    assert rows["ego_collision"]["rule_ego_collision"] == 0.75 and rows["ego_collision"]["rule_cut_in"] == 0.0
    assert rows["cut_in"]["rule_ego_collision"] == 0.0 and rows["near_miss"]["rule_ego_collision"] == 0.0
    # the wrecks appear in frame 2 beside the ego (one pop-in in each of 3 clips of 3 transitions)
    assert rows["ego_collision"]["pop_ins_per_frame"] == pytest.approx(3 / 12)
    assert rows["cut_in"]["pop_ins_per_frame"] == 0.0
    store = write_generated(tmp_path / "gen2.zarr", video, [1, 1, 1, 1, 2, 3])
    rows = {r["event"]: r for r in rare_event_fidelity(stub, store, 4, (64, 64, 3))}
    assert rows["near_miss"]["pop_ins_per_frame"] == pytest.approx(1 / 3)
    grey = write_generated(tmp_path / "grey.zarr", video[..., :1], [1, 1, 1, 1, 2, 3])
    rows = {r["event"]: r for r in rare_event_fidelity(stub, grey, 4, (64, 64, 1))}
    assert rows["ego_collision"]["rule_fidelity"] is None and rows["ego_collision"]["pop_ins_per_frame"] is None
    from sciffusion.pipelines.bench.video_events import rule_scores

    test = load_windows(write_toy(tmp_path / "toy.zarr", 8, seed=2), frames=4, stride=2)
    scores = rule_scores(test)
    assert set(scores) == {"ego_collision", "cut_in", "pop_ins"} and scores["ego_collision"]["recall"] == 0.0
    assert scores["cut_in"]["false_alarm"] == 0.0 and scores["cut_in"]["normal_windows"] == (test.event == 0).sum()
    assert scores["pop_ins"]["normal_windows"] == (test.event == 0).sum() and scores["pop_ins"]["per_frame"] >= 0


def test_bad_stores_are_one_line_errors_naming_the_store(tmp_path):
    video = np.zeros((2, 6, 16, 16, 3), np.uint8)
    plain = write_video_store(tmp_path / "plain.zarr", video, {"fps": 10.0})
    with pytest.raises(ValueError, match=r"plain\.zarr: no driving labels labels/ego_collision"):
        load_windows(plain, 4, 2)
    with pytest.raises(ValueError, match=r"plain\.zarr: no labels/event"):
        open_generated(plain, 4, (16, 16, 3))
    with pytest.raises(ValueError, match=r"g\.zarr: frames \(16, 16, 3\) \[H, W, C\] != \(32, 32, 3\)"):
        open_generated(write_generated(tmp_path / "g.zarr", video, [1, 2]), 4, (32, 32, 3))
    with pytest.raises(ValueError, match=r"g\.zarr: 6 frames per clip, need at least 10 \(--frames\)"):
        open_generated(tmp_path / "g.zarr", 10, (16, 16, 3))
    with pytest.raises(ValueError, match=r"short\.zarr: 8 frames per clip, need at least 10"):
        load_windows(write_toy(tmp_path / "short.zarr", 4, seed=0), 10, 2)
    with pytest.raises(ValueError, match=r"bad_event\.zarr: labels/event must be integers"):
        open_generated(write_generated(tmp_path / "bad_event.zarr", video, [1, 7]), 4, (16, 16, 3))


def test_run_refuses_bad_inputs_before_training(tmp_path, stores):
    train, test = stores
    small = write_generated(tmp_path / "small.zarr", np.zeros((2, 4, 8, 8, 3), np.uint8), [1, 1])
    ok = write_generated(tmp_path / "ok.zarr", np.zeros((1, 4, 16, 16, 3), np.uint8), [1])
    same_seed = write_toy(tmp_path / "same_seed.zarr", 8, seed=0)
    calm = write_toy(tmp_path / "calm.zarr", 4, seed=9, kinds=[0] * 4)
    trainish, testish = write_toy(tmp_path / "tr.zarr", 8, 5, "train"), write_toy(tmp_path / "te.zarr", 8, 6, "test")
    cases = [(dict(generated=(small,)), r"small\.zarr: frames \(8, 8, 3\)"),
             (dict(generated=(ok,), test=same_seed), r"same_seed\.zarr: made with the same seed 0"),
             (dict(generated=(ok,), test=trainish), r"--test: .*tr\.zarr is a training-split store"),
             (dict(generated=(ok,), train=testish), r"--train: .*te\.zarr is a test-split store"),
             (dict(generated=(ok,), train=calm), r"calm\.zarr: no window with an event")]
    for kw, message in cases:
        cfg = VideoEventsConfig(**{"train": train, "test": test, "out": tmp_path / "out",
                                   "classifier": EventClassifierConfig(frames=4), **kw})
        with pytest.raises(ValueError, match=message):
            run_video_events(cfg, log=lambda s: None)
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kw,message", [
    (dict(frames=3), "--frames"), (dict(epochs=0), "--epochs"), (dict(max_steps=0), "max_steps"),
    (dict(lr=0.0), "lr"), (dict(stride=0), "stride")])
def test_classifier_config_rejects_bad_values(kw, message):
    with pytest.raises(ValueError, match=message):
        EventClassifierConfig(**kw)


def test_run_config_rejects_same_train_and_test_and_no_generated(tmp_path):
    with pytest.raises(ValueError, match="--test: .* is the training store"):
        VideoEventsConfig(train=tmp_path / "a.zarr", test=tmp_path / "a.zarr", generated=(tmp_path / "g",),
                          out=tmp_path / "o")
    with pytest.raises(ValueError, match="--generated: need at least one"):
        VideoEventsConfig(train=tmp_path / "a.zarr", test=tmp_path / "b.zarr", generated=(), out=tmp_path / "o")


def test_cli_runs_end_to_end_and_writes_every_file(tmp_path, stores):
    train, test = stores
    gen_a = tmp_path / "gen_a"  # a 'video generate' folder holding clips.zarr
    write_generated(gen_a / "clips.zarr", toy_clips(4, seed=7, kinds=[1] * 4)[0], [1] * 4)
    gen_b = write_generated(tmp_path / "gen_b.zarr", toy_clips(4, seed=8, kinds=[2] * 4)[0], [2] * 4)
    out = tmp_path / "report"
    args = ["bench", "video-events", "--train", str(train), "--test", str(test), "--generated", f"{gen_a},{gen_b}",
            "--out", str(out), "--frames", "4", "--epochs", "2", "--seed", "3", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"classifier.pt", "classifier_eval.json", "confusion.png",
                                               "fidelity.csv", "fidelity.png", "config.json"}
    with open(out / "fidelity.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["event"], r["clips"]) for r in rows] == [("ego_collision", "4"), ("cut_in", "4")]
    assert rows[0]["store"] == str(gen_a / "clips.zarr") and 0 <= float(rows[0]["fidelity"]) <= 1
    assert rows[0]["rule_fidelity"] == "0.0" and rows[0]["rule_recall"] == "0.0"  # toy clips show no ego
    assert rows[1]["rule_ego_collision"] == "0.0" and float(rows[1]["pop_ins_per_frame"]) >= 0
    assert rows[0]["real_rule_cut_in"] == rows[1]["rule_false_alarm"] and rows[0]["real_pop_ins_per_frame"] != ""
    assert "pop-ins/frame" in result.output and "held-out normal" in result.output
    report = json.loads((out / "classifier_eval.json").read_text())
    assert report["windows"] == 96 and len(report["confusion"]) == len(EVENTS)
    assert json.loads((out / "config.json").read_text())["classifier"]["seed"] == 3
    assert any(line.startswith("ego_collision") for line in result.output.splitlines())
    model, ckpt = load_event_classifier(out / "classifier.pt")  # weights-only round trip
    x = torch.zeros(1, 3, 4, 16, 16)
    again = EventClassifier(3, ckpt["config"]["width"])
    again.load_state_dict(ckpt["state_dict"])
    assert torch.equal(model(x), again.eval()(x))
    again_run = CliRunner().invoke(app, args)  # the output exists: one line, nothing replaced
    assert again_run.exit_code == 2 and "already exists" in again_run.output

    # the same judge for another run: --classifier reuses classifier.pt, no training, same verdicts
    reuse = tmp_path / "reuse"
    reuse_args = [a if a != str(out) else str(reuse) for a in args] + ["--classifier", str(out / "classifier.pt")]
    result = CliRunner().invoke(app, reuse_args)
    assert result.exit_code == 0, result.output
    assert "event classifier: step" not in result.output and "not retrained" in result.output
    assert (reuse / "fidelity.csv").read_text() == (out / "fidelity.csv").read_text()
    assert json.loads((reuse / "classifier_eval.json").read_text()) == report
    config = json.loads((reuse / "config.json").read_text())
    assert config["classifier_from"]["path"] == str(out / "classifier.pt") and len(config["classifier_from"]["sha256"]) == 64
    # a classifier trained on another store, or on windows of another length, is refused in one line
    other = [a if a != str(train) else str(test) for a in reuse_args]
    other[other.index("--test") + 1] = str(train)
    other[other.index("--out") + 1] = str(tmp_path / "other")
    refused = CliRunner().invoke(app, other)
    assert refused.exit_code == 2 and "was trained on" in refused.output and not (tmp_path / "other").exists()
    longer = [a if a != "4" else "5" for a in reuse_args]
    longer[longer.index("--out") + 1] = str(tmp_path / "longer")
    refused = CliRunner().invoke(app, longer)
    assert refused.exit_code == 2 and "judges windows of 4 frames" in refused.output


def test_cli_help_documents_every_option():
    out = CliRunner().invoke(app, ["bench", "video-events", "--help"], terminal_width=200).output
    for option in ("--train", "--test", "--generated", "--out", "--frames", "--epochs", "--seed", "--overwrite",
                   "--progress", "--classifier"):
        assert option in out
