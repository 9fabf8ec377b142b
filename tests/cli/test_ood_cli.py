"""`sciffusion ood fit | score | evaluate` with a tiny model: exit codes, outputs, one-line errors."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sciffusion.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["ood", *map(str, args)])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ood_cli")
    rng = np.random.default_rng(0)
    normal = np.clip(rng.normal(60, 20, (40, 8, 8)), 0, 255).astype(np.uint8)
    bright = np.clip(rng.normal(200, 20, (6, 8, 8)), 0, 255).astype(np.uint8)
    np.savez(root / "train.npz", images=normal[:30])
    np.savez(root / "test.npz", images=np.r_[normal[30:], bright], label=np.r_[np.zeros(10), np.ones(6)].astype(np.uint8))
    return root


def test_help_lists_every_option():
    for command, flags in (("fit", ["--data", "--out", "--model", "--minutes", "--score", "--levels", "--density",
                                    "--threshold", "--contamination", "--holdout", "--patch-bank", "--precision"]),
                           ("score", ["--detector", "--data", "--out", "--maps"]),
                           ("evaluate", ["--scores", "--labels", "--out", "--maps"])):
        r = invoke(command, "--help")
        assert r.exit_code == 0 and all(flag in r.output for flag in flags), r.output


@pytest.fixture(scope="module")
def detector(files):
    det = files / "det"
    r = invoke("fit", "--data", files / "train.npz", "--out", det, "--max-steps", 10, "--levels", 2,
               "--base-channels", 8, "--batch-size", 16, "--score", "msma", "--density", "knn")
    assert r.exit_code == 0, r.output
    assert "NFE 2/input" in r.output and (det / "detector.pt").is_file()
    return det


def test_fit_score_evaluate(files, detector):
    scores, report = files / "s.csv", files / "report"
    r = invoke("score", "--detector", detector, "--data", files / "test.npz", "--out", scores, "--maps", files / "maps")
    assert r.exit_code == 0, r.output
    assert "16 inputs" in r.output and (files / "maps" / "maps.npz").is_file()
    assert scores.read_text().splitlines()[0].startswith("id,score,score_normalised,label_pred,msma_0")
    r = invoke("evaluate", "--scores", scores, "--labels", files / "test.npz", "--out", report)
    assert r.exit_code == 0, r.output
    metrics = json.loads((report / "metrics.json").read_text())
    assert "AUROC" in r.output and metrics["n_anomaly"] == 6 and 0 <= metrics["auroc"] <= 1
    r = invoke("evaluate", "--scores", scores, "--labels", files / "test.npz", "--out", files / "rep_maps",
               "--maps", files / "maps")
    assert r.exit_code == 0 and "note:" not in r.output, r.output  # maps for every scored input: nothing to say
    with np.load(files / "maps" / "maps.npz") as archive:  # maps for 10 of the 16 inputs
        (files / "maps_part").mkdir()
        np.savez(files / "maps_part" / "maps.npz", **{k: archive[k][:10] for k in archive.files})
    r = invoke("evaluate", "--scores", scores, "--labels", files / "test.npz", "--out", files / "rep_part",
               "--maps", files / "maps_part")
    assert r.exit_code == 0, r.output
    assert "note: " in r.output and "maps for 10 of the 16 scored inputs" in r.output
    assert json.loads((files / "rep_part" / "metrics.json").read_text())["maps_inputs"] == 10
    r = invoke("score", "--detector", detector, "--data", files / "test.npz", "--out", scores)
    assert r.exit_code == 2 and "already exists" in r.output  # never overwritten without --overwrite


def test_features_score_columns_with_and_without_the_patch_bank(files, tmp_path):
    cases = ((64, "knn_0_sigma=0.3,patch_0_sigma=0.3"), (0, "knn_0_sigma=0.3\n"),
             (None, "knn_0_sigma=0.3,patch_0_sigma=0.3"))  # images keep patches by default
    for patch_bank, expected in cases:
        det, scores = tmp_path / f"det{patch_bank}", tmp_path / f"s{patch_bank}.csv"
        flag = [] if patch_bank is None else ["--patch-bank", patch_bank]
        r = invoke("fit", "--data", files / "train.npz", "--out", det, "--max-steps", 3, "--levels", 1,
                   "--base-channels", 8, "--batch-size", 16, *flag)
        assert r.exit_code == 0 and "features score, NFE 1/input" in r.output, r.output
        r = invoke("score", "--detector", det, "--data", files / "test.npz", "--out", scores)
        assert r.exit_code == 0, r.output
        assert scores.read_text().splitlines()[0].endswith(expected.strip()), scores.read_text().splitlines()[0]
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "bad", "--patch-bank", -1)
    assert r.exit_code == 2 and r.output.strip() == "error: --patch-bank: must be >= 0 (0: no patch distances), got -1"


def test_bad_input_is_one_line_exit_2(files, tmp_path):
    r = invoke("fit", "--data", tmp_path / "nope.npz", "--out", tmp_path / "d")
    assert r.exit_code == 2 and r.output.strip() == f"error: {tmp_path / 'nope.npz'}: no such file or store"
    np.savez(tmp_path / "both.npz", images=np.zeros((2, 8, 8), np.uint8), clips=np.zeros((2, 3, 8, 8), np.uint8))
    r = invoke("fit", "--data", tmp_path / "both.npz", "--out", tmp_path / "d")
    assert r.exit_code == 2 and "exactly one of the arrays" in r.output and len(r.output.strip().splitlines()) == 1
    np.savez(tmp_path / "clips.npz", clips=np.zeros((6, 5, 8, 8), np.uint8))
    r = invoke("fit", "--data", tmp_path / "clips.npz", "--out", tmp_path / "d", "--levels", 3)
    assert r.exit_code == 2 and r.output.strip() == ("error: --levels: set per score kind, so not for the ensemble "
                                                     "features+predictive+pixels+statistics (its members use their "
                                                     "kinds' defaults) (--score auto on clips)")
    assert not (tmp_path / "d").exists()
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "d", "--score", "magic")
    assert r.exit_code == 2 and "error: --score: need auto, one of msma," in r.output
    r = invoke("score", "--detector", tmp_path, "--data", files / "test.npz", "--out", tmp_path / "s.csv")
    assert r.exit_code == 2 and "no detector.pt" in r.output
    np.savez(tmp_path / "short.npz", clips=np.zeros((4, 3, 8, 8), np.uint8))
    r = invoke("fit", "--data", tmp_path / "short.npz", "--out", tmp_path / "d", "--score", "predictive")
    assert r.exit_code == 2 and r.output.strip() == (f"error: {tmp_path / 'short.npz'}: the predictive score needs clips "
                                                     "of at least 3 + 1 frames (--context-frames + --target-frames), "
                                                     "got clips of 3 frames")
    np.savez(tmp_path / "one.npz", images=np.zeros((1, 8, 8), np.uint8))
    r = invoke("fit", "--data", tmp_path / "one.npz", "--out", tmp_path / "d")
    assert r.exit_code == 2 and r.output.strip() == f"error: {tmp_path / 'one.npz'}: 1 inputs are too few to train " \
                                                    "and calibrate on (need at least 4: 2 to train on, 2 held out)"
    assert not (tmp_path / "d").exists()
    np.savez(tmp_path / "three.npz", clips=np.zeros((3, 5, 8, 8), np.uint8))  # one left to train on: refused
    r = invoke("fit", "--data", tmp_path / "three.npz", "--out", tmp_path / "d", "--score", "features")
    assert r.exit_code == 2 and r.output.strip().endswith("3 inputs are too few to train and calibrate on (need at "
                                                          "least 4: 2 to train on, 2 held out)"), r.output


@pytest.mark.parametrize("kind", ["pixels", "statistics"])
def test_the_scores_with_no_network_fit_in_seconds_and_find_the_bright_images(files, tmp_path, kind):
    """Both fit with no network, find the six bright images, and refuse --model (nothing would start from
    it) and, as a start, refuse to be one; the statistics score has no map, so --maps is refused before any
    output is written."""
    import pandas as pd

    det = tmp_path / "det"
    r = invoke("fit", "--data", files / "train.npz", "--out", det, "--score", kind)
    assert r.exit_code == 0, r.output
    assert "no network, fitted in" in r.output and f"{kind} score, NFE 0/input" in r.output
    r = invoke("score", "--detector", det, "--data", files / "test.npz", "--out", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "s.csv")
    feature = {"pixels": "pos_pixels", "statistics": "statistics"}[kind]
    assert list(table.columns) == ["id", "score", "score_normalised", "label_pred", feature]
    assert table["score"][10:].min() > table["score"][:10].max()  # the six bright images
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "d2", "--score", kind,
               "--model", det / "detector.pt")
    assert r.exit_code == 2 and r.output.strip() == (f"error: --model: the {kind} score uses no network, so there "
                                                     "is nothing to start from") and not (tmp_path / "d2").exists()
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "d3", "--score", "msma",
               "--model", det / "detector.pt")
    assert r.exit_code == 2 and r.output.strip().endswith(f"a {kind} detector holds no network to start from")
    assert not (tmp_path / "d3").exists()
    r = invoke("score", "--detector", det, "--data", files / "test.npz", "--out", tmp_path / "m.csv",
               "--maps", tmp_path / "maps")
    if kind == "statistics":
        assert r.exit_code == 2 and r.output.strip().startswith("error: --maps: the statistics score has no dense map")
        assert not (tmp_path / "m.csv").exists() and not (tmp_path / "maps").exists()
    else:
        assert r.exit_code == 0 and (tmp_path / "maps" / "maps.npz").is_file(), r.output


def test_evaluate_refuses_bad_score_tables(files, detector, tmp_path):
    for name, text, problem in (("text.csv", "id,score\n0,abc\n1,2\n", "score of id '0' is 'abc', need a finite number"),
                                ("nan.csv", "id,score\n0,1\n1,nan\n", "score of id '1' is 'nan', need a finite number"),
                                ("rows.csv", "id,score\n", "no rows"),
                                ("twice.csv", "id,score\n0,1\n0,2\n", "id '0' appears twice"),
                                ("pred.csv", "id,score,label_pred\n0,1,1\n1,2,nan\n", "label_pred of id '1' is 'nan', need 0 or 1"),
                                ("feature.csv", "id,score,msma_0\n0,1,1\n1,2,inf\n", "msma_0 of id '1' is 'inf', need a finite number"),
                                ("note.csv", "id,score,note\n0,1,ok\n1,2,odd\n", "note of id '0' is 'ok', need a finite number")):
        (tmp_path / name).write_text(text)
        r = invoke("evaluate", "--scores", tmp_path / name, "--labels", files / "test.npz", "--out", tmp_path / "r")
        assert r.exit_code == 2 and r.output.strip().startswith(f"error: {tmp_path / name}: {problem}"), r.output
    (tmp_path / "normal_only.csv").write_text("id,label\n0,0\n1,0\n")
    (tmp_path / "two.csv").write_text("id,score\n0,1\n1,2\n")
    r = invoke("evaluate", "--scores", tmp_path / "two.csv", "--labels", tmp_path / "normal_only.csv", "--out", tmp_path / "r")
    assert r.exit_code == 2 and "normal_only.csv: the 2 scored inputs are all labelled 0 (normal)" in r.output, r.output
    assert not (tmp_path / "r").exists()


def test_shape_mismatch_is_refused(detector, tmp_path):
    np.savez(tmp_path / "rgb.npz", images=np.zeros((2, 8, 8, 3), np.uint8))
    r = invoke("score", "--detector", detector, "--data", tmp_path / "rgb.npz", "--out", tmp_path / "s.csv")
    assert r.exit_code == 2 and "inputs of shape [3, 8, 8]" in r.output and "fitted on [1, 8, 8]" in r.output


def test_target_frames_zero_keeps_long_clips_within_the_call_budget(tmp_path):
    clips = np.random.default_rng(1).integers(0, 255, (12, 20, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "clips.npz", clips=clips)
    common = ["--score", "predictive", "--max-steps", 2, "--base-channels", 8, "--batch-size", 4]
    r = invoke("fit", "--data", tmp_path / "clips.npz", "--out", tmp_path / "one", *common)
    assert r.exit_code == 0 and "NFE 17/input" in r.output, r.output  # default: one frame per window, 20 - 3 windows
    r = invoke("fit", "--data", tmp_path / "clips.npz", "--out", tmp_path / "auto", "--target-frames", 0, *common)
    assert r.exit_code == 0 and "NFE 6/input" in r.output, r.output  # 3 frames per window: 6 windows
    assert json.loads((tmp_path / "auto" / "fit.json").read_text())["nfe_per_input"] == 6


def test_bench_ood_command():
    r = runner.invoke(app, ["bench", "ood", "--help"])
    assert r.exit_code == 0 and all(flag in r.output for flag in ("--datasets", "--pyod", "--minutes", "--levels", "--no-whole-input",
                                                             "--batch-size"))
    r = runner.invoke(app, ["bench", "ood", "--out", "unused", "--datasets", "cifar"])
    assert r.exit_code == 2 and "error: --datasets: need distinct names from mnist, smmnist, smmnist-digits, driving" in r.output


def test_bench_ood_passes_the_batch_size(monkeypatch):
    import sciffusion.pipelines.bench.ood as bench

    seen = {}
    monkeypatch.setattr(bench, "run_ood_bench", lambda cfg, **_: seen.setdefault("cfg", cfg) and [])
    monkeypatch.setattr(bench, "format_table", lambda rows: "table")
    r = runner.invoke(app, ["bench", "ood", "--out", "unused", "--batch-size", "16"])
    assert r.exit_code == 0, r.output
    assert seen["cfg"].batch_size == 16
    r = runner.invoke(app, ["bench", "ood", "--out", "unused", "--batch-size", "0"])
    assert r.exit_code == 2 and "--batch-size" in r.output


def test_mvtec_style_image_folders_fit_score_and_evaluate(tmp_path):
    """MVTec AD's layout: train/good, test/good + test/<defect>, ground_truth/<defect>/<stem>_mask.png; the
    images are 16 px and the detector works at 8 (--image-size), score and evaluate follow it."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "bottle"

    def save(folder, count, bright):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            image = np.clip(rng.normal(60, 15, (16, 16)), 0, 255).astype(np.uint8)
            if bright:
                image[4:12, 4:12] = 250
                mask = np.zeros((16, 16), np.uint8)
                mask[4:12, 4:12] = 255
                (root / "ground_truth" / "crack").mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask).save(root / "ground_truth" / "crack" / f"{i:03d}_mask.png")
            Image.fromarray(image).save(root / folder / f"{i:03d}.png")

    save("train/good", 30, False)
    save("test/good", 8, False)
    save("test/crack", 6, True)
    common = ["--max-steps", 2, "--base-channels", 8, "--batch-size", 4]
    r = invoke("fit", "--data", root / "train", "--out", tmp_path / "det", "--image-size", 8, *common)
    assert r.exit_code == 0 and "30 normal inputs [1, 8, 8]" in r.output, r.output
    r = invoke("score", "--detector", tmp_path / "det", "--data", root / "test", "--out", tmp_path / "s.csv",
               "--maps", tmp_path / "maps")
    assert r.exit_code == 0, r.output
    table = __import__("pandas").read_csv(tmp_path / "s.csv")
    assert table["id"].tolist()[:2] == ["crack/000.png", "crack/001.png"] and len(table) == 14
    (tmp_path / "colour").mkdir()  # a grey detector reads colour images as grey (channels are the detector's)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), "RGB").save(tmp_path / "colour" / f"{i}.png")
    r = invoke("score", "--detector", tmp_path / "det", "--data", tmp_path / "colour", "--out", tmp_path / "c.csv")
    assert r.exit_code == 0 and len(__import__("pandas").read_csv(tmp_path / "c.csv")) == 3, r.output
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", root / "test", "--out", tmp_path / "r",
               "--maps", tmp_path / "maps")
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["auroc"] > 0.9 and metrics["pixel_auroc"] is not None  # bright squares on dim noise
    r = invoke("fit", "--data", root / "test", "--out", tmp_path / "d2", *common)  # 16 px: no resize
    assert r.exit_code == 0 and "8 normal inputs [1, 16, 16]" in r.output, r.output  # anomalies left out
    (root / "ground_truth" / "crack" / "005_mask.png").unlink()
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", root / "test", "--out", tmp_path / "r2")
    assert r.exit_code == 2 and "005.png: no mask" in r.output and not (tmp_path / "r2").exists()
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(root / "train" / "good" / "odd.png")
    r = invoke("fit", "--data", root / "train", "--out", tmp_path / "d3", *common)
    assert r.exit_code == 2 and "odd.png: 7x5 px, 000.png is 16x16: pass --image-size" in r.output


def test_footage_folders_fit_score_and_evaluate(tmp_path):
    """UCSD Ped's layout: Train/Train00k and Test/Test00k frame folders, Test00k_gt masks beside them. fit cuts
    the training footage into clips (--clip-frames), score cuts the test footage into the detector's clips
    and scores every source frame (frames.csv), evaluate reads the labels from the _gt folders."""
    from PIL import Image

    rng = np.random.default_rng(0)

    def sequence(folder, frames, bright=()):
        folder.mkdir(parents=True)
        gt = folder.parent / f"{folder.name}_gt"
        if folder.parent.name == "Test":
            gt.mkdir()
        for t in range(frames):
            frame = np.clip(rng.normal(60, 10, (12, 20)), 0, 255).astype(np.uint8)
            mask = np.zeros((12, 20), np.uint8)
            if t in bright:
                frame[2:10, 6:14], mask[2:10, 6:14] = 250, 255
            Image.fromarray(frame).save(folder / f"{t + 1:03d}.tif")
            if folder.parent.name == "Test":
                Image.fromarray(mask).save(gt / f"{t + 1:03d}.bmp")

    for k in range(1, 4):
        sequence(tmp_path / "Train" / f"Train00{k}", 24)
    sequence(tmp_path / "Test" / "Test001", 12, bright=range(4, 10))
    sequence(tmp_path / "Test" / "Test002", 10)
    common = ["--max-steps", 2, "--base-channels", 8, "--batch-size", 4, "--score", "features"]
    r = invoke("fit", "--data", tmp_path / "Train", "--out", tmp_path / "det", "--clip-frames", 4, "--clip-stride", 2,
               "--image-size", 8, "--fit", "stretch", *common)
    assert r.exit_code == 0 and "33 normal inputs [1, 4, 8, 8]" in r.output, r.output  # 11 clips per source, grey
    assert json.loads((tmp_path / "det" / "config.json").read_text())["footage"]["fit"] == "stretch"
    r = invoke("score", "--detector", tmp_path / "det", "--data", tmp_path / "Test", "--out", tmp_path / "s.csv",
               "--maps", tmp_path / "maps")
    assert r.exit_code == 0, r.output
    table = __import__("pandas").read_csv(tmp_path / "s.csv")
    assert table["id"].tolist() == ["Test001/0", "Test001/2", "Test001/4", "Test001/6", "Test001/8",
                                    "Test002/0", "Test002/2", "Test002/4", "Test002/6"]  # the fit's stride
    frames = __import__("pandas").read_csv(tmp_path / "maps" / "frames.csv")
    assert len(frames) == 22 and frames["frame"].tolist()[:12] == list(range(12))  # every source frame once
    assert frames.loc[frames.source == "Test001", "score"].iloc[4:10].min() > frames.loc[frames.source == "Test002",
                                                                                          "score"].max()
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", tmp_path / "Test", "--out", tmp_path / "r",
               "--maps", tmp_path / "maps")
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["n_anomaly"] == 4 and metrics["auroc"] > 0.9 and metrics["frame_auroc"] > 0.9, metrics
    assert metrics["pixel_auroc"] is not None and (tmp_path / "r" / "frames.png").stat().st_size > 1000
    # per source ("macro"): only Test001 holds both classes
    assert metrics["sources_with_both_classes"] == 1 and metrics["frame_auroc_per_source"] > 0.8, metrics
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", tmp_path / "Test", "--out", tmp_path / "rs",
               "--maps", tmp_path / "maps", "--smooth-frames", 3)
    smooth = json.loads((tmp_path / "rs" / "metrics.json").read_text())
    assert r.exit_code == 0 and smooth["smooth_frames"] == 3 and smooth["frame_auroc"] > 0.9, r.output
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", tmp_path / "Test", "--out", tmp_path / "rs2",
               "--maps", tmp_path / "maps", "--smooth-frames", -1)
    assert r.exit_code == 2 and "--smooth-frames: need a number of frames >= 0" in r.output
    # ground truth from a --truth folder is searched first: here it says the opposite, so AUROC falls below 0.5
    truth = tmp_path / "truth"
    truth.mkdir()
    np.save(truth / "Test001.npy", np.zeros(12, np.int64))
    np.save(truth / "Test002.npy", np.ones(10, np.int64))
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", tmp_path / "Test", "--out", tmp_path / "r2",
               "--truth", truth)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "r2" / "metrics.json").read_text())["auroc"] < 0.25
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", tmp_path / "Test", "--out", tmp_path / "r3",
               "--truth", tmp_path / "nowhere")
    assert r.exit_code == 2 and "--truth: " in r.output and "no such folder" in r.output and not (tmp_path / "r3").exists()
    # a source shorter than one clip is left out, said on the terminal and in the sidecar and the report
    sequence(tmp_path / "Test" / "Test003", 3)
    r = invoke("score", "--detector", tmp_path / "det", "--data", tmp_path / "Test", "--out", tmp_path / "s2.csv")
    assert r.exit_code == 0 and "1 source(s) shorter than one clip not scored: Test003" in r.output, r.output
    assert json.loads((tmp_path / "s2.csv.json").read_text())["skipped_sources"] == ["Test003"]
    r = invoke("evaluate", "--scores", tmp_path / "s2.csv", "--labels", tmp_path / "Test", "--out", tmp_path / "r4")
    assert r.exit_code == 0 and json.loads((tmp_path / "r4" / "metrics.json").read_text())["skipped_sources"] == \
        ["Test003"], r.output
    r = invoke("fit", "--data", tmp_path / "Train" / "Train001" / "001.tif", "--out", tmp_path / "d2", *common)
    assert r.exit_code == 2 and "need a video zarr store" in r.output
    r = invoke("fit", "--data", tmp_path / "Train", "--out", tmp_path / "d3", "--clip-frames", 30, *common)
    assert r.exit_code == 2 and "Train: every one of its 3 sources is too short (the longest has 24 frames)" in \
        r.output and not (tmp_path / "d3").exists()
    r = invoke("fit", "--data", tmp_path / "Train", "--out", tmp_path / "d4", "--clip-stride", 2, *common)
    assert r.exit_code == 2 and "--clip-stride: only with --clip-frames" in r.output
    r = invoke("fit", "--data", tmp_path / "Train", "--out", tmp_path / "d5", *common)  # forgot --clip-frames
    assert r.exit_code == 2 and "a folder of frame folders is footage: pass --clip-frames T" in r.output, r.output


def test_large_inputs_are_fitted_at_the_working_size_and_mapped_back(tmp_path):
    """--max-side: 80 px images are seen by the network at 32 px (fit.json says so); scores, maps and
    masks stay at 80 px; --max-side 0 keeps the full size."""
    rng = np.random.default_rng(0)
    normal = np.clip(rng.normal(60, 15, (24, 80, 80)), 0, 255).astype(np.uint8)
    test = np.clip(rng.normal(60, 15, (6, 80, 80)), 0, 255).astype(np.uint8)
    test[3:, 20:60, 20:60] = 250
    mask = np.zeros((6, 80, 80), np.uint8)
    mask[3:, 20:60, 20:60] = 1
    np.savez(tmp_path / "train.npz", images=normal)
    np.savez(tmp_path / "test.npz", images=test, label=np.r_[0, 0, 0, 1, 1, 1].astype(np.uint8), mask=mask)
    common = ["--max-steps", 2, "--base-channels", 8, "--batch-size", 4, "--score", "msma", "--levels", 2]
    r = invoke("fit", "--data", tmp_path / "train.npz", "--out", tmp_path / "det", "--max-side", 32, *common)
    assert r.exit_code == 0 and "24 normal inputs [1, 80, 80]" in r.output, r.output
    report = json.loads((tmp_path / "det" / "fit.json").read_text())
    assert report["input_shape"] == [1, 80, 80] and report["working_shape"] == [1, 32, 32]
    r = invoke("score", "--detector", tmp_path / "det", "--data", tmp_path / "test.npz", "--out", tmp_path / "s.csv",
               "--maps", tmp_path / "maps")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "maps" / "maps.npz") as maps:
        assert maps["maps"].shape == (6, 80, 80)
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", tmp_path / "test.npz", "--out", tmp_path / "r",
               "--maps", tmp_path / "maps")
    assert r.exit_code == 0 and json.loads((tmp_path / "r" / "metrics.json").read_text())["pixel_auroc"] > 0.5, r.output
    r = invoke("fit", "--data", tmp_path / "train.npz", "--out", tmp_path / "full", "--max-side", 0, *common)
    assert r.exit_code == 0 and json.loads((tmp_path / "full" / "fit.json").read_text())["working_shape"] == [1, 80, 80]
    r = invoke("fit", "--data", tmp_path / "train.npz", "--out", tmp_path / "tuned", "--model", tmp_path / "det" /
               "detector.pt", "--max-side", 32, *common)  # fine-tunes at the working size it was fitted at
    assert r.exit_code == 0 and json.loads((tmp_path / "tuned" / "fit.json").read_text())["working_shape"] == [1, 32, 32]


def test_overwrite_never_replaces_an_input(files, detector, tmp_path):
    """--overwrite replaces outputs whole, so an output that is, holds or lies inside an input is refused."""
    import shutil

    data = tmp_path / "p" / "train.npz"
    data.parent.mkdir()
    shutil.copy(files / "train.npz", data)
    fit = ["--max-steps", 1, "--levels", 1, "--base-channels", 8, "--score", "msma"]
    for out in (data, data.parent):
        r = invoke("fit", "--data", data, "--out", out, "--overwrite", *fit)
        assert r.exit_code == 2 and f"--out: {out} " in r.output and "would replace it" in r.output, r.output
        assert data.is_file() and np.load(data)["images"].shape == (30, 8, 8)
    det = tmp_path / "det"
    shutil.copytree(detector, det)
    r = invoke("score", "--detector", det, "--data", files / "test.npz", "--out", tmp_path / "s.csv",
               "--maps", det, "--overwrite")
    assert r.exit_code == 2 and "--maps" in r.output and (det / "detector.pt").is_file()
    assert not (tmp_path / "s.csv").exists()
    r = invoke("score", "--detector", det, "--data", files / "test.npz", "--out", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    before = (tmp_path / "s.csv").read_bytes()
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", files / "test.npz", "--out", tmp_path / "s.csv",
               "--overwrite")
    assert r.exit_code == 2 and "would replace it" in r.output and (tmp_path / "s.csv").read_bytes() == before
    r = invoke("score", "--detector", det, "--data", files / "test.npz", "--out", tmp_path / ("x" * 300 + ".csv"))
    assert r.exit_code == 2 and "longer than 255 bytes" in r.output and len(r.output.strip().splitlines()) == 1


def test_threshold_f1_needs_validation_data(files, tmp_path):
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "d", "--threshold", "f1", "--max-steps", 1)
    assert r.exit_code == 2 and r.output.strip() == "error: --threshold f1: needs --val-data (labelled validation " \
                                                    "inputs with a few anomalies)"
    assert not (tmp_path / "d").exists()


def test_ids_that_read_as_missing_values_stay_ids(files, detector, tmp_path):
    images = np.load(files / "test.npz")["images"][:4]
    ids = np.array(["NA", "null", "nan", "n/a"])
    np.savez(tmp_path / "t.npz", images=images, id=ids, label=np.array([0, 1, 0, 1], np.uint8))
    r = invoke("score", "--detector", detector, "--data", tmp_path / "t.npz", "--out", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    (tmp_path / "labels.csv").write_text("id,label\nnan,0\nNA,0\nnull,1\nn/a,1\n")
    for labels in (tmp_path / "t.npz", tmp_path / "labels.csv"):
        r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", labels, "--out", tmp_path / labels.stem)
        assert r.exit_code == 0, r.output
        assert json.loads((tmp_path / labels.stem / "metrics.json").read_text())["n_anomaly"] == 2


def test_four_channel_square_clips_fit_and_score(tmp_path):
    clips = np.random.default_rng(0).integers(0, 255, (10, 4, 8, 8, 4), dtype=np.uint8)
    np.savez(tmp_path / "c4.npz", clips=clips)
    r = invoke("fit", "--data", tmp_path / "c4.npz", "--out", tmp_path / "d", "--max-steps", 1, "--levels", 1,
               "--base-channels", 8, "--score", "msma")
    assert r.exit_code == 0, r.output
    r = invoke("score", "--detector", tmp_path / "d", "--data", tmp_path / "c4.npz", "--out", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 1 + 10


def test_image_folders_corrupt_files_and_ground_truth_folders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder in ("Test001", "Test001_gt"):
        (tmp_path / "set" / folder).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "set" / folder / f"{i}.png")
    from sciffusion.pipelines.ood.inputs import read_inputs

    data = read_inputs(tmp_path / "set")  # UCSD Ped's masks beside their frames are not inputs
    assert data.ids == [f"Test001/{i}.png" for i in range(3)]
    (tmp_path / "set" / "Test001" / "bad.png").write_text("not a png")
    r = invoke("fit", "--data", tmp_path / "set", "--out", tmp_path / "d", "--max-steps", 1)
    assert r.exit_code == 2 and r.output.strip() == f"error: {tmp_path / 'set' / 'Test001' / 'bad.png'}: not a " \
                                                    "readable image (UnidentifiedImageError)"


def test_footage_only_options_are_refused_for_other_inputs(files, detector, tmp_path):
    r = invoke("score", "--detector", detector, "--data", files / "test.npz", "--out", tmp_path / "s.csv",
               "--clip-stride", 2)
    assert r.exit_code == 2 and r.output.startswith("error: --clip-stride: cuts footage") and \
        not (tmp_path / "s.csv").exists()
    r = invoke("evaluate", "--scores", tmp_path / "s.csv", "--labels", files / "test.npz", "--out", tmp_path / "r",
               "--smooth-frames", 2)
    assert r.exit_code == 2 and "--smooth-frames: smooths the frame scores of --maps" in r.output


def test_fit_refuses_identical_inputs_and_names_options_in_errors(files, tmp_path):
    """Identical normal inputs leave no spread to calibrate on (every score tied at the threshold flagged all
    of them); a NaN manual threshold would flag nothing; the core's field names come back as options."""
    np.savez(tmp_path / "const.npz", images=np.full((20, 8, 8), 7, np.uint8))
    r = invoke("fit", "--data", tmp_path / "const.npz", "--out", tmp_path / "d", "--max-steps", 2)
    assert r.exit_code == 2 and r.output.strip() == (f"error: {tmp_path / 'const.npz'}: all 20 normal inputs are "
                                                     "identical; a detector needs normal inputs that vary")
    for option, message in ((["--threshold", "manual", "--manual-threshold", "nan"],
                             "error: --manual-threshold: must be a finite number, got nan"),
                            (["--contamination", "0.7"], "error: --contamination: must be in (0, 0.5], got 0.7"),
                            (["--holdout", "1.5"], "error: --holdout: must be in [0, 1), got 1.5"),
                            (["--precision", "bf17"], "error: --precision: must be one of auto, 32-true, bf16-mixed, "
                                                      "16-mixed, got 'bf17'")):
        r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "d", "--max-steps", 2, *option)
        assert r.exit_code == 2 and r.output.strip() == message, r.output
    assert not (tmp_path / "d").exists()
    np.savez(tmp_path / "empty.npz", images=np.zeros((0, 8, 8), np.uint8))
    r = invoke("fit", "--data", tmp_path / "empty.npz", "--out", tmp_path / "d")
    assert r.exit_code == 2 and r.output.strip() == f"error: {tmp_path / 'empty.npz'}: 'images' is empty, shape [0, 8, 8]"


def test_fit_says_and_records_the_precision_it_trained_in(files, tmp_path):
    """--precision reaches the training (fit.json's train.precision, the closing line); auto is resolved to the
    precision actually used, never written as 'auto'."""
    common = ("--max-steps", 2, "--levels", 2, "--base-channels", 8, "--batch-size", 16, "--score", "msma")
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "fp32", "--precision", "32-true", *common)
    assert r.exit_code == 0 and "(stopped by steps, 32-true)" in r.output, r.output
    assert json.loads((tmp_path / "fp32" / "fit.json").read_text())["train"]["precision"] == "32-true"
    r = invoke("fit", "--data", files / "train.npz", "--out", tmp_path / "auto", *common)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "auto" / "fit.json").read_text())["train"]["precision"] in ("32-true", "bf16-mixed")
