"""fit → score → evaluate on tiny images and clips (a few training steps; the checks are on plumbing and
on the metrics agreeing with the table, plus a separable toy set that any working detector ranks)."""
import json

import numpy as np
import pandas as pd
import pytest

from sciffusion.common.anomaly.metrics import auroc
from sciffusion.pipelines.ood.evaluate import OODEvaluateConfig, evaluate_ood
from sciffusion.pipelines.ood.fit import OODFitConfig, detector_config, fit_ood
from sciffusion.pipelines.ood.score import OODScoreConfig, score_ood


def _fit(data, out, **kw):
    cfg = detector_config(score=kw.pop("score", "combined"), levels=2, max_steps=kw.pop("max_steps", 30),
                          batch_size=16, minutes=5.0, holdout=0.25)  # the step cap ends it
    return fit_ood(OODFitConfig(data=data, out=out, detector=cfg, base_channels=8, **kw))


@pytest.fixture(scope="module")
def image_detector(image_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("det") / "det"
    _fit(image_files / "train.npz", out)
    return out


def test_fit_writes_the_detector_folder(image_detector):
    report = json.loads((image_detector / "fit.json").read_text())
    assert sorted(p.name for p in image_detector.iterdir()) == ["config.json", "detector.pt", "fit.json"]
    assert report["inputs"] == 60 and report["input_shape"] == [1, 8, 8] and report["nfe_per_input"] == 2
    assert report["train"]["steps"] == 30 and report["threshold_rule"] == "quantile"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_and_evaluate(image_detector, image_files, tmp_path, suffix):
    table_path, maps, report = tmp_path / f"s{suffix}", tmp_path / "maps", tmp_path / "report"
    summary = score_ood(OODScoreConfig(detector=image_detector, data=image_files / "test.npz", out=table_path,
                                       maps=maps, overlays=3))
    table = pd.read_parquet(table_path) if suffix == ".parquet" else pd.read_csv(table_path)
    assert list(table.columns[:4]) == ["id", "score", "score_normalised", "label_pred"]
    assert len(table) == 24 and table.columns[4].startswith("msma_0") and summary["nfe_per_input"] == 2
    assert ((table.score > summary["threshold"]) == table.label_pred.astype(bool)).all()
    assert ((table.score_normalised > 0.5) == table.label_pred.astype(bool)).all()
    with np.load(maps / "maps.npz") as m:
        assert m["maps"].shape == (24, 8, 8)
    assert len(list(maps.glob("*.png"))) == 3
    result = evaluate_ood(OODEvaluateConfig(scores=table_path, labels=image_files / "test.npz", out=report, maps=maps))
    y = np.r_[np.zeros(16), np.ones(8)]
    assert result["auroc"] == pytest.approx(auroc(table.score.to_numpy(), y))
    assert result["auroc"] > 0.9  # bright inputs vs dark training data: any working detector separates them
    assert result["pixel_auroc"] is not None and result["nfe_per_input"] == 2
    assert {p.name for p in report.iterdir()} >= {"metrics.json", "metrics.md", "roc.png", "pr.png", "histogram.png"}
    csv = evaluate_ood(OODEvaluateConfig(scores=table_path, labels=image_files / "labels.csv", out=tmp_path / "r2"))
    assert csv["auroc"] == result["auroc"]


def test_evaluate_refuses_broken_maps(image_detector, image_files, tmp_path):
    maps = tmp_path / "maps"
    score_ood(OODScoreConfig(detector=image_detector, data=image_files / "test.npz", out=tmp_path / "s.csv", maps=maps))
    whole = (maps / "maps.npz").read_bytes()
    (maps / "maps.npz").write_bytes(whole[: len(whole) // 2])  # a copy that stopped half way
    config = OODEvaluateConfig(scores=tmp_path / "s.csv", labels=image_files / "test.npz", out=tmp_path / "r",
                               maps=maps)
    with pytest.raises(ValueError, match="maps.npz: not a readable .npz file"):
        evaluate_ood(config)
    np.savez(maps / "maps.npz", id=np.arange(24))  # some other archive under the name
    with pytest.raises(ValueError, match="maps.npz: no 'maps' array"):
        evaluate_ood(config)
    np.savez(maps / "maps.npz", id=np.arange(24), maps=np.zeros((23, 8, 8)))
    with pytest.raises(ValueError, match="maps.npz: 24 ids, 23 maps"):
        evaluate_ood(config)
    assert not (tmp_path / "r").exists()  # no report that looks complete


def test_shape_mismatch_and_existing_outputs(image_detector, tmp_path, image_files):
    np.savez(tmp_path / "big.npz", images=np.zeros((2, 16, 16), np.uint8))
    with pytest.raises(ValueError, match=r"big.npz: inputs of shape \[1, 16, 16\].*fitted on \[1, 8, 8\]"):
        score_ood(OODScoreConfig(detector=image_detector, data=tmp_path / "big.npz", out=tmp_path / "s.csv"))
    with pytest.raises(FileExistsError, match="already exists"):
        _fit(image_files / "train.npz", image_detector)
    with pytest.raises(ValueError, match="need a .csv or .parquet"):
        OODScoreConfig(detector=image_detector, data=tmp_path / "big.npz", out=tmp_path / "s.txt")
    (tmp_path / "short.csv").write_text("id,label\n0,0\n")
    score_ood(OODScoreConfig(detector=image_detector, data=image_files / "test.npz", out=tmp_path / "t.csv"))
    with pytest.raises(ValueError, match="no label for id '1'"):
        evaluate_ood(OODEvaluateConfig(scores=tmp_path / "t.csv", labels=tmp_path / "short.csv", out=tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_fine_tune_from_a_detector(image_detector, image_files, tmp_path):
    report = _fit(image_files / "train.npz", tmp_path / "tuned", model=image_detector / "detector.pt", max_steps=5)
    assert report["fine_tuned_from"].endswith("detector.pt") and report["train"]["steps"] == 5
    np.savez(tmp_path / "rgb.npz", images=np.zeros((8, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="fitted on inputs of shape"):
        _fit(tmp_path / "rgb.npz", tmp_path / "bad", model=image_detector / "detector.pt")


def test_clip_store_frame_auroc(clip_store, tmp_path):
    det = tmp_path / "det"
    _fit(clip_store, det, score="msma")  # the labelled half is left out of training
    assert json.loads((det / "fit.json").read_text())["inputs"] == 6
    score_ood(OODScoreConfig(detector=det, data=clip_store, out=tmp_path / "s.csv", maps=tmp_path / "maps", overlays=1))
    with np.load(tmp_path / "maps" / "maps.npz") as m:
        assert m["maps"].shape == (12, 4, 8, 8) and m["frame_scores"].shape == (12, 4)
    result = evaluate_ood(OODEvaluateConfig(scores=tmp_path / "s.csv", labels=clip_store, out=tmp_path / "r",
                                            maps=tmp_path / "maps"))
    assert result["frame_auroc"] is not None and result["n_anomaly"] == 6


def test_auto_score_is_the_ensemble_for_clips_and_features_otherwise(clip_store, tmp_path):
    from sciffusion.pipelines.ood.fit import resolve_score

    assert resolve_score("auto", (1, 4, 8, 8)) == "features+predictive+pixels+statistics"
    assert resolve_score("auto", (1, 8, 8)) == "features"
    assert resolve_score("auto", (1, 3, 8, 8)) == "features"  # too short for 3 context + 1 target frames
    assert resolve_score("msma", (1, 4, 8, 8)) == "msma"
    common = dict(levels=1, max_steps=10, batch_size=4, minutes=5.0, holdout=0.34)
    images, clips = detector_config("features", **common), detector_config("predictive", **common)
    det = tmp_path / "det"
    fit_ood(OODFitConfig(data=clip_store, out=det, detector=images, clip_detector=clips, base_channels=8))
    report = json.loads((det / "fit.json").read_text())
    assert report["score"] == "predictive" and report["nfe_per_input"] == 1  # T = 4: one window of 3 + 1 frames
    saved = json.loads((det / "config.json").read_text())
    assert saved["clip_detector"]["score"]["kind"] == "predictive" and saved["detector"]["score"]["kind"] == "features"
    score_ood(OODScoreConfig(detector=det, data=clip_store, out=tmp_path / "s.csv", maps=tmp_path / "maps", overlays=1))
    with np.load(tmp_path / "maps" / "maps.npz") as m:
        maps = m["maps"]  # the context frames, never predicted, repeat the first predicted frame's map
        assert maps.shape == (12, 4, 8, 8) and (maps[:, :3] == maps[:, 3:4]).all() and (maps > 0).all()
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert "gain_max_0_sigma=2" in header and "pred_max_0_sigma=2" in header
    auto = OODFitConfig(data=clip_store, out=det, detector=images, clip_detector=clips)
    assert auto.detector_for((1, 4, 8, 8)) is clips and auto.detector_for((1, 8, 8)) is images
    assert auto.detector_for((1, 3, 8, 8)) is images  # --score auto on clips too short for a predictive window


def test_fine_tune_from_a_lightning_checkpoint(image_files, tmp_path):
    """The demo's layout: model.ckpt (DiffusionModule state_dict) with config.json {'net': UNet2DConfig} beside it."""
    import dataclasses

    import torch

    from sciffusion.common.networks.unet2d import UNet2D, UNet2DConfig
    from sciffusion.common.training import DiffusionModule
    from sciffusion.pipelines.ood.fit import load_start

    unet = UNet2DConfig(in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1,
                        attention=(False, False))
    module = DiffusionModule(UNet2D(unet))
    name, first = next(module.ema.shadow.named_parameters())
    with torch.no_grad():
        first.fill_(0.125)  # the EMA weights are the ones carried over, not the training weights
    (tmp_path / "run").mkdir()
    torch.save({"state_dict": module.state_dict()}, tmp_path / "run" / "model.ckpt")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"net": dataclasses.asdict(unet)}))
    start = load_start(tmp_path / "run" / "model.ckpt", (1, 8, 8), trust=False)
    assert start.net_config.unet == unet and (start.state[name] == 0.125).all() and start.train is None
    report = _fit(image_files / "train.npz", tmp_path / "det", model=tmp_path / "run" / "model.ckpt", max_steps=3)
    assert report["train"]["steps"] == 3
    with pytest.raises(ValueError, match="weights do not fit"):
        load_start(tmp_path / "run" / "model.ckpt", (3, 8, 8), trust=False)


def test_ensemble_of_features_and_predictive_on_clips(clip_store, tmp_path):
    from sciffusion.common.anomaly import EnsembleConfig
    from sciffusion.pipelines.ood.fit import detector_settings

    settings = detector_settings("features+predictive", max_steps=10, batch_size=4, minutes=4.0, holdout=0.34)
    assert isinstance(settings, EnsembleConfig)
    assert settings.calibration.density == "softmax"  # the default since session 40
    assert [m.minutes for m in settings.members] == [2.0, 2.0] and [m.max_steps for m in settings.members] == [5, 5]
    assert settings.members[0].score.levels == 2 and settings.members[1].score.sigma_min == 2.0  # each kind's defaults
    with pytest.raises(ValueError, match="--levels: set per score kind"):
        detector_settings("features+predictive", levels=3)
    with pytest.raises(ValueError, match="--score: need auto"):
        detector_settings("features+features")
    det = tmp_path / "det"
    report = fit_ood(OODFitConfig(data=clip_store, out=det, detector=settings, base_channels=8))
    assert report["score"] == "features+predictive" and report["nfe_per_input"] == 2 + 1
    assert report["train"]["steps"] == 10 and report["train"]["stopped_by"] == "steps+steps"
    summary = score_ood(OODScoreConfig(detector=det, data=clip_store, out=tmp_path / "s.csv", maps=tmp_path / "maps",
                                       overlays=1))
    assert summary["score"] == "features+predictive" and summary["nfe_per_input"] == 3
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table.columns[4:]) == ["features", "predictive"] and len(table) == 12
    with np.load(tmp_path / "maps" / "maps.npz") as m:
        assert m["maps"].shape == (12, 4, 8, 8)
    assert auroc(table["score"].to_numpy(), np.r_[np.zeros(6), np.ones(6)]) > 0.5  # flashes are anomalous to both
    with pytest.raises(ValueError, match="an ensemble detector holds one network per score"):
        fit_ood(OODFitConfig(data=clip_store, out=tmp_path / "again", detector=settings, model=det / "detector.pt"))


def test_the_pixels_score_fits_with_no_network_scores_maps_and_refuses_a_model(clip_store, tmp_path):
    """``--score pixels``: a detector folder in seconds with no training, 0 NFE, per-frame maps; a starting
    model is refused (nothing would use it), and a pixels detector is not a start for a network."""
    from sciffusion.pipelines.ood.fit import detector_settings

    det = tmp_path / "det"
    report = fit_ood(OODFitConfig(data=clip_store, out=det, detector=detector_settings("pixels", holdout=0.34)))
    assert report["score"] == "pixels" and report["nfe_per_input"] == 0 and report["train"]["steps"] == 0
    summary = score_ood(OODScoreConfig(detector=det, data=clip_store, out=tmp_path / "s.csv", maps=tmp_path / "maps",
                                       overlays=1))
    assert summary["score"] == "pixels" and summary["nfe_per_input"] == 0
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table.columns[4:]) == ["pos_pixels"] and len(table) == 12
    with np.load(tmp_path / "maps" / "maps.npz") as m:
        assert m["maps"].shape == (12, 4, 8, 8) and m["frame_scores"].shape == (12, 4)
    with pytest.raises(ValueError, match="--model: the pixels score uses no network"):
        fit_ood(OODFitConfig(data=clip_store, out=tmp_path / "again", detector=detector_settings("pixels"),
                             model=det / "detector.pt"))
    with pytest.raises(ValueError, match="a pixels detector holds no network to start from"):
        fit_ood(OODFitConfig(data=clip_store, out=tmp_path / "again", detector=detector_settings("features"),
                             model=det / "detector.pt"))
    assert not (tmp_path / "again").exists()


def _tiny_video_model(path, channels=1, events=False):
    """A video model file (``video train``'s format) of a tiny space-time U-Net: 2 past → 2 frames."""
    import torch

    from sciffusion.common.training.config import TrainConfig
    from sciffusion.domains.video.model import VideoModelConfig, model_file

    cfg = VideoModelConfig(channels=channels, size=8, past_frames=2, frames=2, events=events, base_channels=8,
                           channel_mults=(1, 2), spatial_attention=(False, False), temporal_attention=(False, True),
                           embed_dim=32, groups=4)
    torch.manual_seed(0)
    net = cfg.network()
    torch.save(model_file(net, cfg, TrainConfig(sigma_data=0.4, lr=3e-4).to_dict(), {"step": 1}), path)
    return net


def test_a_video_model_is_the_predictive_members_context_denoiser(clip_store, tmp_path):
    """``ood fit --model video.pt``: the predictive member starts from the video model's weights, takes
    its frames and preconditioning; the detector reloads and scores the same (the builder is registered
    by the package)."""
    import torch

    from sciffusion.common.anomaly import EnsembleDetector
    from sciffusion.domains.video.context_net import VideoClipNet, VideoContextNet
    from sciffusion.pipelines.ood.fit import adopt_start, detector_settings, load_start
    from sciffusion.pipelines.ood.score import load_detector

    video = _tiny_video_model(tmp_path / "video.pt")
    start = load_start(tmp_path / "video.pt", (1, 4, 8, 8), trust=False)
    assert (start.net_config.external, start.net_config.context_frames, start.net_config.target_frames) == ("video", 2, 2)
    assert all(torch.equal(start.state[f"net.{k}"], v) for k, v in video.state_dict().items())
    assert start.train.sigma_data == 0.4
    settings = adopt_start(detector_settings("features+predictive", max_steps=4, batch_size=4, minutes=4.0), start)
    features, predictive = settings.members
    assert (predictive.score.context_frames, predictive.score.target_frames) == (2, 2)
    assert (predictive.train.sigma_data, predictive.train.lr) == (0.4, 3e-4)  # fine-tuned as it was trained
    assert (features.train.sigma_data, features.train.lr) == (0.4, 3e-4)  # a spacetime model serves it too

    det_dir = tmp_path / "det"
    settings = detector_settings("features+predictive", max_steps=4, batch_size=4, minutes=4.0, holdout=0.34)
    report = fit_ood(OODFitConfig(data=clip_store, out=det_dir, detector=settings, model=tmp_path / "video.pt",
                                  base_channels=8))
    assert report["nfe_per_input"] == 2 + 1  # features 2 levels; one window of 2 context + 2 target frames
    det = load_detector(det_dir)
    assert isinstance(det, EnsembleDetector)
    member = det.members_[1]
    assert isinstance(member.module_.ema.shadow, VideoContextNet) and member.config.train.sigma_data == 0.4
    first = det.members_[0]  # features: the same video network as a denoiser of whole clips, per-frame positions
    assert isinstance(first.module_.ema.shadow, VideoClipNet) and first.net_config_.context_frames == 0
    assert first.bank_.positions.mean.shape[1] == 8 * 8  # one Gaussian per position of the 8x8 first level
    alone = first.score_samples(torch.zeros(2, 1, 4, 8, 8))
    assert alone.map.shape == (2, 4, 8, 8) and alone.frames.shape == (2, 4)  # frame scores: each frame's peak
    assert first.frame_scale_ > 0 and first.frame_scale_ != first.map_scale_  # saved with the detector
    score_ood(OODScoreConfig(detector=det_dir, data=clip_store, out=tmp_path / "s.csv", maps=tmp_path / "maps"))
    table = pd.read_csv(tmp_path / "s.csv")
    assert len(table) == 12 and np.isfinite(table["score"]).all()
    from sciffusion.common.anomaly.features import frame_scores
    from sciffusion.pipelines.ood.inputs import read_inputs

    expected = frame_scores(det.score_samples(read_inputs(clip_store).model_inputs())).numpy()
    with np.load(tmp_path / "maps" / "maps.npz") as m:  # the ensemble's: the deciding member's, in its units
        assert m["frame_scores"].shape == (12, 4) and np.allclose(m["frame_scores"], expected, atol=1e-5)

    rgb = tmp_path / "rgb.pt"
    _tiny_video_model(rgb, channels=3)
    with pytest.raises(ValueError, match="3-channel frames, the clips have 1"):
        load_start(rgb, (1, 4, 8, 8), trust=False)
    with pytest.raises(ValueError, match="at least 4 frames; the clips have 3"):
        load_start(tmp_path / "video.pt", (1, 3, 8, 8), trust=False)
    with pytest.raises(ValueError, match="scores clips"):
        load_start(tmp_path / "video.pt", (1, 8, 8), trust=False)
    with pytest.raises(ValueError, match="cannot run on 9x9 frames"):
        load_start(tmp_path / "video.pt", (1, 4, 9, 9), trust=False)


def test_frame_scores_are_smoothed_within_each_source_only():
    from sciffusion.pipelines.ood.evaluate import smooth_per_source

    scores = np.array([0.0, 0.0, 10.0, 0.0, 0.0, 5.0, 5.0, 5.0])
    source = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    out = smooth_per_source(scores, source, 1.0)
    assert out[5:].tolist() == [5.0, 5.0, 5.0]  # a constant source stays constant: nothing leaks across sources
    assert out[2] < 10.0 and out[1] > 0.0 and out[3] == pytest.approx(out[1])  # the impulse spreads symmetrically
    assert out[:5].sum() == pytest.approx(10.0, rel=0.02)  # about the same mass (a little lost past the edges)
    assert smooth_per_source(scores, source, 0.0).tolist() == scores.tolist()
