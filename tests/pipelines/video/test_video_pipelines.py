import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig
from sciffusion.domains.video.ingest import IngestConfig
from sciffusion.domains.video.zarr_store import open_video_store, write_video_store
from sciffusion.pipelines.video.baseline import BaselineConfig, run_baseline
from sciffusion.pipelines.video.evaluate import EvaluateConfig, evaluate, score_frames
from sciffusion.pipelines.video.ingest import IngestPipelineConfig, ingest_video
from sciffusion.pipelines.video.make_smmnist import MakeSMMNISTConfig, make_smmnist
from sciffusion.pipelines.video.mosaic import MosaicConfig, write_mosaic

BUNDLED_CLIP = Path(__file__).resolve().parents[3] / "domains" / "video" / "data" / "udacity_lane_clip.mp4"


@pytest.fixture
def smmnist(tmp_path):
    cfg = MakeSMMNISTConfig(out=tmp_path / "s.zarr", data=SMMNISTConfig(clips=4, frames=20, seed=1, split="test"))
    return make_smmnist(cfg)


def test_make_smmnist_writes_metadata_and_digit_ids(smmnist):
    store = open_video_store(smmnist)
    assert store.video.shape == (4, 20, 64, 64, 1)
    assert store.attrs["seed"] == 1 and store.attrs["split"] == "test" and store.fps == 10.0
    assert store.labels["digit_ids"].shape == (4, 2) and store.labels["digit_classes"][...].max() <= 9


def test_outputs_never_overwrite(smmnist):
    with pytest.raises(FileExistsError):
        make_smmnist(MakeSMMNISTConfig(out=smmnist, data=SMMNISTConfig(clips=1)))
    with pytest.raises(ValueError, match="input"):
        BaselineConfig(data=smmnist, out=smmnist)


def test_baseline_then_evaluate_writes_the_report(smmnist, tmp_path):
    pred = run_baseline(BaselineConfig(data=smmnist, out=tmp_path / "p.zarr", context=10, horizon=10,
                                       method="copy-last"))
    assert open_video_store(pred, kind="prediction").video.shape == (4, 1, 10, 64, 64, 1)
    result = evaluate(EvaluateConfig(pred=pred, truth=smmnist, out=tmp_path / "report", fvd=False))
    metrics = pd.read_csv(tmp_path / "report" / "metrics.csv")
    assert list(metrics.columns) == ["clip", "method", "psnr", "ssim"] and len(metrics) == 4
    assert (metrics.method == "copy-last").all()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert "fvd" in summary and summary["fvd"] is None
    assert summary["psnr"] == pytest.approx(metrics.psnr.mean()) == pytest.approx(result.psnr)
    assert (tmp_path / "report" / "ssim_per_frame.png").stat().st_size > 1000
    # copy-last gets worse with the horizon on bouncing digits
    assert result.per_frame_ssim[0] > result.per_frame_ssim[-1]


def test_perfect_prediction_scores_ssim_one(smmnist):
    truth = open_video_store(smmnist).video[...]
    scores = score_frames(truth[:, None, 10:], truth[:, 10:])
    np.testing.assert_allclose(scores.ssim, 1.0)


def test_too_short_data_is_rejected(smmnist, tmp_path):
    with pytest.raises(ValueError, match="need context"):
        run_baseline(BaselineConfig(data=smmnist, out=tmp_path / "p.zarr", context=15, horizon=10))
    assert not (tmp_path / "p.zarr").exists()


def test_mosaic_png_and_gif(smmnist, tmp_path):
    pred = run_baseline(BaselineConfig(data=smmnist, out=tmp_path / "p.zarr", method="linear"))
    for name in ("g.png", "g.gif", "G.GIF"):
        write_mosaic(MosaicConfig(pred=pred, truth=smmnist, out=tmp_path / name, clips=2))
        assert (tmp_path / name).stat().st_size > 1000


def test_evaluate_refuses_a_prediction_of_fewer_clips(smmnist, tmp_path):
    """Scoring the first N clips of the truth set silently would change every mean."""
    truth = open_video_store(smmnist).video[...]
    write_video_store(tmp_path / "p.zarr", truth[:3, None, 10:], {"fps": 10.0, "context": 10, "horizon": 10},
                      kind="prediction")
    with pytest.raises(ValueError, match=r"p.zarr: 3 clips, but its truth store .*s.zarr has 4"):
        evaluate(EvaluateConfig(pred=tmp_path / "p.zarr", truth=smmnist, out=tmp_path / "report", fvd=False))
    assert not (tmp_path / "report").exists()


def test_evaluate_reduces_with_the_domain_reductions():
    from sciffusion.domains.video.metrics import best_of_k
    from sciffusion.pipelines.video import evaluate as evaluate_module

    assert evaluate_module.REDUCTIONS is best_of_k.REDUCTIONS


def test_make_smmnist_removes_a_killed_runs_temporary(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".s.zarr.{dead.pid}.abc123.tmp"
    (stale / "s.zarr" / "video").mkdir(parents=True)
    make_smmnist(MakeSMMNISTConfig(out=tmp_path / "s.zarr", data=SMMNISTConfig(clips=1, frames=2, split="test")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_ingest_pipeline_and_atomic_failure(tmp_path):
    out = ingest_video(IngestPipelineConfig(source=BUNDLED_CLIP, out=tmp_path / "r.zarr",
                                            ingest=IngestConfig(size=64, clip_frames=10)))
    store = open_video_store(out)
    assert store.video.shape == (3, 10, 64, 64, 3)
    assert store.labels["source_frame"][...].tolist()[1] == list(range(10, 20))
    assert store.attrs["decoder"] == "decord" and store.attrs["source"] == BUNDLED_CLIP.name
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ValueError):
        ingest_video(IngestPipelineConfig(source=bad, out=tmp_path / "bad.zarr", ingest=IngestConfig()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "r.zarr"]  # no zarr, no temp left


@pytest.mark.slow
def test_evaluate_with_fvd_uses_the_feature_cache(smmnist, tmp_path):
    from sciffusion.domains.video.metrics.i3d import default_weights_path

    if not default_weights_path().is_file():
        pytest.skip(f"I3D weights not found at {default_weights_path()} (set SCIFFUSION_I3D_WEIGHTS)")
    pred = run_baseline(BaselineConfig(data=smmnist, out=tmp_path / "p.zarr", method="copy-last"))
    cache = tmp_path / "cache"
    result = evaluate(EvaluateConfig(pred=pred, truth=smmnist, out=tmp_path / "r1", fvd_clips=2,
                                     feature_cache=cache))
    assert result.fvd is not None and result.fvd > 0 and result.fvd_clips == 2
    assert len(list(cache.glob("i3d_*.npy"))) == 2  # real and predicted sets
    summary = json.loads((tmp_path / "r1" / "summary.json").read_text())
    assert summary["fvd"] == pytest.approx(result.fvd)


def test_identical_frames_keep_psnr_finite_in_reports(smmnist):
    truth = open_video_store(smmnist).video[...]
    scores = score_frames(truth[:, None, 10:], truth[:, 10:])
    np.testing.assert_allclose(scores.psnr, 100.0)


def test_predict_leaves_no_output_when_a_later_one_fails(tmp_path, monkeypatch):
    """predict writes four outputs; one that fails (here the --store, as in an unwritable folder) must not
    leave the others behind looking complete: nothing is moved into place until all are written."""
    import sciffusion.domains.video.zarr_store as zarr_store
    from sciffusion.domains.video.testing import write_tiny_model
    from sciffusion.pipelines.video.predict import PredictConfig, predict
    from sciffusion.pipelines.video.sampling_run import SamplingRun
    from sciffusion.domains.video.sampling import SamplingConfig

    data = make_smmnist(MakeSMMNISTConfig(out=tmp_path / "s.zarr", data=SMMNISTConfig(clips=2, frames=6, size=16)))
    run = SamplingRun(model=write_tiny_model(tmp_path / "m.ckpt"), sampling=SamplingConfig(sampler="euler", steps=1))

    def unwritable(*args, **kwargs):
        raise PermissionError("no space or no permission")

    monkeypatch.setattr(zarr_store, "write_video_store", unwritable)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PermissionError):
        predict(PredictConfig(input=data, out=out / "p.gif", store=out / "p.zarr", run=run, context=2, frames=2))
    assert list(out.iterdir()) == []


def test_generate_refuses_a_bad_option_before_importing_lightning():
    """A bad --clips is a one-line error at once, not after Lightning's import (seconds): only sampling needs it."""
    import subprocess
    import sys

    code = ("import sys\nfrom sciffusion.pipelines.video.generate import GenerateConfig\n"
            "try:\n    GenerateConfig(out='g', clips=-1)\nexcept ValueError:\n    pass\n"
            "assert 'pytorch_lightning' not in sys.modules, 'Lightning imported to check an option'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resolve_guide_defaults_to_the_bundled_guide_for_the_bundled_event_model(tmp_path):
    """--guide auto: the bundled guide (at the measured scale) only when an event is asked of the bundled
    event model; none, another model or no event: no guide; a scale without a guide stays an error."""
    from sciffusion.domains.video.event_guide import BUNDLED_GUIDE, DEFAULT_GUIDE_SCALE
    from sciffusion.domains.video.model import BUNDLED_MODELS
    from sciffusion.pipelines.video.generate import GenerateConfig, resolve_guide

    assert BUNDLED_GUIDE.is_file()
    assert resolve_guide("auto", None, "cut-in", None) == (BUNDLED_GUIDE, DEFAULT_GUIDE_SCALE)
    assert resolve_guide("auto", 3.0, "collision", BUNDLED_MODELS["driving"]) == (BUNDLED_GUIDE, 3.0)
    assert resolve_guide("auto", None, "cut-in", tmp_path / "mine.ckpt") == (None, 0.0)
    assert resolve_guide("auto", None, None, None) == (None, 0.0)
    assert resolve_guide("none", None, "cut-in", None) == (None, 0.0)
    assert resolve_guide(tmp_path / "g.pt", None, "cut-in", None) == (tmp_path / "g.pt", DEFAULT_GUIDE_SCALE)
    guide, scale = resolve_guide("none", 2.0, "cut-in", None)
    from sciffusion.pipelines.video.sampling_run import SamplingRun
    from sciffusion.domains.video.sampling import SamplingConfig

    with pytest.raises(ValueError, match="--guide-scale: needs --guide"):
        GenerateConfig(out=tmp_path / "g", event="cut-in", guide=guide,
                       run=SamplingRun(sampling=SamplingConfig(guide_scale=scale)))
