"""bench ood: the impossible-motion anomalies, the PyOD inputs, the config, and a tiny end-to-end run."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sciffusion.common.anomaly.metrics import detection_metrics
from sciffusion.pipelines.bench.ood import OODBenchConfig, break_motion, pyod_inputs, run_ood_bench


def _clip(frames=8, size=16):
    clip = np.zeros((frames, size, size, 1), np.uint8)
    for t in range(frames):
        clip[t, 2 + t, 3 + t] = 255  # a dot moving diagonally
    return clip


def test_freeze_reverse_teleport():
    clip, rng = _clip(), np.random.default_rng(0)
    frozen, t0 = break_motion(clip, "freeze", rng)
    assert 4 <= t0 < 6 and np.array_equal(frozen[:t0], clip[:t0])
    assert all(np.array_equal(frozen[t], clip[t0]) for t in range(t0, 8))
    reversed_, t0 = break_motion(clip, "reverse", rng)
    assert all(np.array_equal(reversed_[t0 + k], clip[t0 - 1 - k]) for k in range(8 - t0))
    jumped, t0 = break_motion(clip, "teleport", rng)
    assert np.array_equal(jumped[:t0], clip[:t0])
    y, x = np.argwhere(jumped[t0, ..., 0])[0]
    dy, dx = (y - (2 + t0)) % 16, (x - (3 + t0)) % 16
    assert min(dy, 16 - dy) >= 4 and min(dx, 16 - dx) >= 4  # jumped by at least a quarter frame
    assert jumped[t0:].sum() == clip[t0:].sum()  # the content moved, none was lost
    with pytest.raises(ValueError, match="teleport, freeze or reverse"):
        break_motion(clip, "swap", rng)


def test_pyod_inputs_pool_exactly():
    pixels = np.arange(2 * 4 * 4 * 1, dtype=np.uint8).reshape(2, 4, 4, 1)
    out = pyod_inputs(pixels, max_dim=4)
    assert out.shape == (2, 4)
    assert np.allclose(out[0, 0], pixels[0, :2, :2].mean() / 255)
    assert pyod_inputs(pixels, max_dim=16).shape == (2, 16)  # small enough: not pooled


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="--datasets"):
        OODBenchConfig(out=tmp_path, datasets=("cifar",))
    with pytest.raises(ValueError, match="--pyod: unknown 'OCSVM'"):
        OODBenchConfig(out=tmp_path, pyod=("OCSVM",))
    with pytest.raises(ValueError, match="--patch-bank: must be >= 0"):
        OODBenchConfig(out=tmp_path, patch_bank=-1)
    with pytest.raises(ValueError, match="--baselines: unknown 'padim'"):
        OODBenchConfig(out=tmp_path, baselines=("padim",))
    with pytest.raises(ValueError, match="--recombine: unknown density 'softest'"):
        OODBenchConfig(out=tmp_path, datasets=("smmnist",), recombine=("softest",))
    with pytest.raises(ValueError, match="--recombine: combines an ensemble's members"):
        OODBenchConfig(out=tmp_path, datasets=("mnist",), recombine=("mean",))
    with pytest.raises(ValueError, match="--recombine: needs the members' held-out scores"):
        OODBenchConfig(out=tmp_path, datasets=("smmnist",), recombine=("mean",), detector=tmp_path / "d.pt")


def _moving_square_clips(n, backwards, rng, frames=5, size=16):
    """[n, T, H, W, 1] uint8: a bright 3 x 3 square crossing the same row left to right (backwards: right
    to left, the same frames in reverse order), starting at a random column."""
    clips = np.zeros((n, frames, size, size, 1), np.uint8)
    for i in range(n):
        start = int(rng.integers(0, size - 3 - 2 * frames))
        for t in range(frames):
            col = start + 2 * (frames - 1 - t if backwards else t)
            clips[i, t, 6:9, col:col + 3] = 255
    return clips


def test_the_pixels_score_as_ours_is_named_for_what_it_is(tmp_path):
    pytest.importorskip("pyod")
    cfg = OODBenchConfig(out=tmp_path / "b", datasets=("smmnist",), score="pixels", pyod=("KNN",), smmnist_clips=12,
                         smmnist_test_clips=6, smmnist_size=16, smmnist_frames=5, baselines=())
    rows = run_ood_bench(cfg, log=lambda _: None)
    assert rows[0]["method"] == "ours: pixels (no network)" and rows[0]["nfe_per_input"] == 0
    assert rows[0]["train_steps"] == 0 and 0 <= rows[0]["auroc"] <= 1


def test_pixel_gaussians_see_motion_against_its_usual_direction_and_need_the_motion_to():
    """Normal clips move a square rightwards, anomalous ones leftwards over the same places: every single
    frame of an anomaly looks normal, so only the change since the frame before can tell them apart."""
    from sciffusion.pipelines.bench.ood import OODSet, run_pixel_gaussians

    rng = np.random.default_rng(0)
    train = _moving_square_clips(64, False, rng)
    test = np.concatenate([_moving_square_clips(16, False, rng), _moving_square_clips(16, True, rng)])
    labels = np.repeat([0, 1], 16)
    frame_labels = np.repeat(labels[:, None], 5, 1)
    data = OODSet("toy", train, test, labels, frame_labels, "toy")
    row, scores = run_pixel_gaussians(data, OODBenchConfig(out=Path("unused")))
    assert row["auroc"] == 1.0 and row["nfe_per_input"] == 0 and row["frame_auroc"] > 0.9
    assert scores.shape == (32,)
    import torch

    from sciffusion.common.anomaly.metrics import auroc
    from sciffusion.common.anomaly.positional import (PositionStatistics, frames_as_inputs, mahalanobis_map,
                                                      pixel_neighbourhoods)

    def still(pixels):  # the same Gaussians without the motion channels: frames alone
        x = torch.from_numpy(pixels).float().permute(0, 4, 1, 2, 3)
        return frames_as_inputs(pixel_neighbourhoods(x, motion=False)[:, None])

    stats = PositionStatistics()
    stats.add(still(train))
    alone = mahalanobis_map(still(test), stats.finish())[:, 0].amax(1).reshape(32, 5).amax(1)
    assert auroc(alone.numpy(), labels) < 0.75  # negative control


def test_tiny_run_writes_the_table(tmp_path):
    pytest.importorskip("pyod")
    cfg = OODBenchConfig(out=tmp_path / "b", datasets=("smmnist",), minutes=0.5, max_steps=3, levels=2,
                         base_channels=8, pyod=("KNN", "ECOD"), smmnist_clips=12, smmnist_test_clips=6,
                         smmnist_size=16, smmnist_frames=4, patch_bank=256,  # clips keep no patches by default
                         score="features")
    rows = run_ood_bench(cfg, log=lambda _: None)
    assert [r["method"] for r in rows] == ["diffusion (features)", "pixel Gaussians (no network)", "pyod KNN",
                                           "pyod ECOD"]
    assert rows[1]["nfe_per_input"] == 0 and rows[1]["frame_auroc"] is not None
    rows = [rows[0], *rows[2:]]  # the PyOD rows below
    assert rows[0]["nfe_per_input"] == 2 and rows[0]["frame_auroc"] is not None
    per_feature = rows[0]["feature_auroc"]  # patch and position distances at both levels
    assert sorted(per_feature) == ["patch_0_sigma=0.3", "patch_1_sigma=0.6", "pos_0_sigma=0.3", "pos_1_sigma=0.6",
                                   "pos_pixels"]  # clips: positions and the pixels' own, no whole-input kNN
    assert all(0 <= v <= 1 for v in per_feature.values())
    assert all(0 <= r["auroc"] <= 1 for r in rows)
    saved = json.loads((tmp_path / "b" / "results.json").read_text())
    assert saved["rows"][2]["auroc"] == rows[1]["auroc"] and "teleport" in saved["protocols"]["smmnist"]
    assert (tmp_path / "b" / "roc_smmnist.png").is_file() and "| smmnist | pyod KNN |" in (tmp_path / "b" / "results.md").read_text()
    import pandas as pd

    from sciffusion.common.anomaly.metrics import auroc

    per_input = pd.read_csv(tmp_path / "b" / "scores_smmnist.csv")
    assert per_input.columns.tolist() == ["id", "label", "kind", "diffusion (features)",
                                          *(f"diffusion (features): {name}" for name in per_feature),
                                          "pixel Gaussians (no network)", "pyod KNN", "pyod ECOD"]
    assert auroc(per_input["diffusion (features): pos_0_sigma=0.3"], per_input["label"]) == \
        pytest.approx(per_feature["pos_0_sigma=0.3"])
    assert per_input["label"].sum() == 6 and set(per_input["kind"]) == {"normal", "teleport", "freeze", "reverse"}

    assert auroc(per_input["pyod KNN"], per_input["label"]) == pytest.approx(rows[1]["auroc"])
    assert sorted(rows[1]["kind_auroc"]) == ["freeze", "reverse", "teleport"]
    assert "| pyod ECOD |" in (tmp_path / "b" / "results_by_kind.md").read_text()


def test_auto_score_gives_clip_sets_the_features_predictive_ensemble(tmp_path):
    pytest.importorskip("pyod")
    cfg = OODBenchConfig(out=tmp_path / "b", datasets=("smmnist",), minutes=0.5, max_steps=3, base_channels=8,
                         pyod=("KNN",), smmnist_clips=12, smmnist_test_clips=6, smmnist_size=16, smmnist_frames=5)
    assert cfg.score == "auto"
    cfg = dataclasses.replace(cfg, recombine=("softmax", "mean"))
    rows = run_ood_bench(cfg, log=lambda _: None)
    # the same fitted members combined two more ways, one row each, right after ours; no further training
    ours = "diffusion (features+predictive+pixels+statistics)"
    assert [r["method"] for r in rows[:3]] == [ours, ours + " [softmax]", ours + " [mean]"]
    assert all(r["nfe_per_input"] == rows[0]["nfe_per_input"] and r["train_steps"] == rows[0]["train_steps"]
               for r in rows[1:3])
    table = pd.read_csv(tmp_path / "b" / "scores_smmnist.csv")
    for r in rows[:3]:
        expected = detection_metrics(table[r["method"]].to_numpy(), table["label"].to_numpy()).auroc
        assert r["auroc"] == pytest.approx(expected)
    assert not np.allclose(table[ours], table[ours + " [mean]"])  # max and mean of the z differ
    assert f"{ours}: pixels" in table and f"{ours} [mean]: pixels" not in table  # the members' scores once
    # features: 2 levels; predictive: 5 frames, 2 windows of 3 + 1 at one level; pixels, statistics: no model call
    assert rows[0]["method"] == "diffusion (features+predictive+pixels+statistics)"
    assert rows[0]["nfe_per_input"] == 2 + 2 + 0 + 0
    assert sorted(rows[0]["feature_auroc"]) == ["features", "pixels", "predictive", "statistics"]  # the members
    assert rows[0]["train_steps"] == 2  # the step cap is shared by the two networks: 3 // 2 each, none for pixels
    with pytest.raises(ValueError, match="clips only"):
        OODBenchConfig(out=tmp_path / "c", datasets=("mnist", "smmnist"), score="predictive")
    with pytest.raises(ValueError, match="not for an ensemble"):
        OODBenchConfig(out=tmp_path / "c", datasets=("mnist", "smmnist"), levels=3)
    assert OODBenchConfig(out=tmp_path / "c", datasets=("mnist",), levels=3).levels == 3  # images: one score


def test_a_fitted_detector_is_used_as_it_is(tmp_path):
    pytest.importorskip("pyod")
    from sciffusion.common.anomaly import DenoiserNetConfig, DiffusionAnomalyDetector
    from sciffusion.pipelines.bench.ood import model_inputs, smmnist_set
    from sciffusion.pipelines.ood.fit import detector_config

    cfg = OODBenchConfig(out=tmp_path / "b", datasets=("smmnist",), pyod=("KNN",), smmnist_clips=12,
                         smmnist_test_clips=6, smmnist_size=16, smmnist_frames=4, detector=tmp_path / "det.pt")
    x = model_inputs(smmnist_set(cfg).train)
    det = DiffusionAnomalyDetector(config=detector_config("msma", levels=3, max_steps=4, minutes=0.5))
    det.fit(x, net_config=DenoiserNetConfig(tuple(x.shape[1:]), base_channels=8)).save(tmp_path / "det.pt")
    rows = run_ood_bench(cfg, log=lambda _: None)
    assert rows[0]["method"] == "diffusion (msma)" and rows[0]["nfe_per_input"] == 3  # its score, not the config's
    assert rows[0]["train_steps"] == 4 and rows[0]["detector"] == str(tmp_path / "det.pt")
    with pytest.raises(ValueError, match="--detector: a fitted detector serves one set"):
        OODBenchConfig(out=tmp_path, datasets=("mnist", "smmnist"), detector=tmp_path / "det.pt")
    wrong = OODBenchConfig(out=tmp_path / "c", datasets=("mnist",), pyod=(), mnist_train=10, mnist_test=10,
                           detector=tmp_path / "det.pt")
    with pytest.raises(ValueError, match=r"fitted on inputs of shape \[1, 4, 16, 16\], the mnist set has \[1, 28, 28\]"):
        run_ood_bench(wrong, log=lambda _: None)


def test_a_video_model_starts_the_predictive_member(tmp_path):
    pytest.importorskip("pyod")
    import torch

    from sciffusion.common.training.config import TrainConfig
    from sciffusion.domains.video.model import VideoModelConfig, model_file

    video = VideoModelConfig(size=16, past_frames=2, frames=2, base_channels=8, channel_mults=(1, 2),
                             spatial_attention=(False, False), temporal_attention=(False, True), embed_dim=32, groups=4)
    torch.save(model_file(video.network(), video, TrainConfig().to_dict(), {}), tmp_path / "video.pt")
    cfg = OODBenchConfig(out=tmp_path / "b", datasets=("smmnist",), minutes=0.5, max_steps=4, base_channels=8,
                         pyod=("KNN",), smmnist_clips=12, smmnist_test_clips=6, smmnist_size=16, smmnist_frames=6,
                         model=tmp_path / "video.pt")
    rows = run_ood_bench(cfg, log=lambda _: None)
    # features: 2 levels; predictive with the video model's 2 context + 2 target frames: 2 windows in 6 frames
    assert rows[0]["method"] == "diffusion (features+predictive+pixels+statistics)"
    assert rows[0]["nfe_per_input"] == 2 + 2
    assert rows[0]["started_from"] == str(tmp_path / "video.pt") and 0 <= rows[0]["auroc"] <= 1
    with pytest.raises(ValueError, match="--model: the pixels score uses no network"):
        OODBenchConfig(out=tmp_path, datasets=("smmnist",), score="pixels", model=tmp_path / "video.pt")
    with pytest.raises(ValueError, match="--model: the pixels.statistics score uses no network"):
        OODBenchConfig(out=tmp_path, datasets=("smmnist",), score="pixels+statistics", model=tmp_path / "video.pt")
    with pytest.raises(ValueError, match="--model: a starting checkpoint serves one set"):
        OODBenchConfig(out=tmp_path, datasets=("smmnist", "driving"), model=tmp_path / "video.pt")
    with pytest.raises(ValueError, match="--model/--detector: give one"):
        OODBenchConfig(out=tmp_path, datasets=("smmnist",), model=tmp_path / "video.pt", detector=tmp_path / "d.pt")


def _driving_store(path, flags_at, n=3, t=20):
    from sciffusion.domains.video.zarr_store import write_video_store

    video = np.random.default_rng(len(flags_at)).integers(0, 255, (n, t, 8, 8, 3), dtype=np.uint8)
    labels = {name: np.zeros((n, t), np.uint8) for name in ("ego_collision", "other_collision", "cut_in", "near_miss")}
    for clip, frame, name in flags_at:
        labels[name][clip, frame] = 1
    write_video_store(path, video, {"fps": 10.0}, labels)
    return path, video


def test_driving_stores_are_cut_into_clips_with_their_labels(tmp_path):
    from sciffusion.pipelines.bench.ood import driving_set

    train, _ = _driving_store(tmp_path / "train.zarr", [(0, 3, "ego_collision")])
    test, video = _driving_store(tmp_path / "test.zarr", [(1, 12, "near_miss"), (2, 5, "cut_in")])
    cfg = OODBenchConfig(out=tmp_path / "o", datasets=("driving",), driving_stores=(train, test),
                         driving_train_clips=4)
    data = driving_set(cfg)
    assert data.test.shape == (6, 10, 8, 8, 3) and np.array_equal(data.test[3], video[1, 10:])
    assert data.labels.tolist() == [0, 0, 0, 1, 0, 0]  # the near-miss window; cut-ins are normal traffic
    assert data.frame_labels[3].tolist() == [0, 0, 1] + [0] * 7
    assert len(data.train) == 4  # 4 event-free train clips (the one after the collision is left out), cap 4
    assert data.kinds.tolist() == ["normal"] * 3 + ["near_miss"] + ["normal"] * 2
    assert "wreck left out: 1 train, 0 test" in data.protocol
    with pytest.raises(ValueError, match="must differ"):
        OODBenchConfig(out=tmp_path / "o", datasets=("driving",), driving_stores=(train, train))
    calm, _ = _driving_store(tmp_path / "calm.zarr", [(2, 5, "cut_in")])  # no collision or near-miss to find
    no_events = OODBenchConfig(out=tmp_path / "o", datasets=("driving",), driving_stores=(train, calm))
    with pytest.raises(ValueError, match=r"calm.zarr: need >= 2 event-free .* got 4 training clips and 0 of 6"):
        driving_set(no_events)


def test_clips_after_a_collision_in_their_episode_are_neither_normal_nor_tested():
    from sciffusion.pipelines.bench.ood import cut_driving_clips

    video = np.zeros((3, 20, 2, 2, 3), np.uint8)
    labels = {name: np.zeros((3, 20), np.uint8) for name in ("ego_collision", "other_collision", "near_miss")}
    labels["other_collision"][0, 15] = 1  # episode 0, frame 15
    labels["near_miss"][1, 4] = 1  # episode 0, frame 24: after the collision, still an anomaly
    clips = cut_driving_clips(video, labels, 10, episode=np.array([0, 0, 1]), start_frame=np.array([0, 20, 0]))
    assert clips.kinds.tolist() == ["normal", "other_collision", "near_miss", "normal", "normal", "normal"]
    assert clips.wreck.tolist() == [False, False, True, True, False, False]
    assert clips.normal_traffic().tolist() == [True, False, False, False, True, True]
    assert clips.evaluable().tolist() == [True, True, True, False, True, True]
    alone = cut_driving_clips(video, labels, 10)  # no episodes: each stored clip is its own
    assert not alone.wreck.any()  # the collision's own clip holds it; nothing comes after
    assert alone.normal_traffic().tolist() == [True, False, False, True, True, True]
    with pytest.raises(ValueError, match="clips of 20 frames, --driving-frames needs 30"):
        cut_driving_clips(video, labels, 30)
    seen = dict(labels, crash_in_view=np.zeros((3, 20), np.uint8))  # newer stores say where a wreck is drawn
    seen["crash_in_view"][0, 16:] = 1  # episode 0: drawn from the collision until the end of stored clip 0
    seen["crash_in_view"][2, 3] = 1  # episode 1: a wreck without a collision in view (it happened out of view)
    clips = cut_driving_clips(video, seen, 10, episode=np.array([0, 0, 1]), start_frame=np.array([0, 20, 0]))
    assert clips.wreck.tolist() == [False, True, False, False, True, False]
    assert clips.normal_traffic().tolist() == [True, False, False, True, False, True]


def test_the_unseen_digits_set_keeps_5_to_9_out_of_the_normal_clips(tmp_path, monkeypatch):
    from sciffusion.common.data import mnist_test_paths
    from sciffusion.common.io.idx import read_idx
    from sciffusion.domains.video.datasets import smmnist
    from sciffusion.pipelines.bench.ood import smmnist_digits_set

    images, digits = read_idx(mnist_test_paths()[0]), read_idx(mnist_test_paths()[1])
    seen = []
    original = smmnist.generate_smmnist

    def spy(pool, config, progress=None):
        seen.append(set(digits[[int(np.flatnonzero((images == im).all((1, 2)))[0]) for im in pool[:40]]]))
        return original(pool, config, progress)

    monkeypatch.setattr(smmnist, "generate_smmnist", spy)
    cfg = OODBenchConfig(out=tmp_path / "b", datasets=("smmnist-digits",), smmnist_clips=8, smmnist_test_clips=5,
                         smmnist_size=16, smmnist_frames=4)
    data = smmnist_digits_set(cfg)
    assert seen[0] <= {0, 1, 2, 3, 4} and seen[1] <= {0, 1, 2, 3, 4} and seen[2] <= {5, 6, 7, 8, 9}  # train, normal, unseen
    assert data.train.shape == (8, 4, 16, 16, 1) and data.test.shape == (10, 4, 16, 16, 1)
    assert data.labels.tolist() == [0] * 5 + [1] * 5 and data.frame_labels.sum() == 5 * 4
    assert set(data.kind_of_each()) == {"normal", "digits_5_9"}
    assert cfg.score == "auto" and "smmnist-digits" in OODBenchConfig(out=tmp_path, datasets=("smmnist-digits",)).datasets
