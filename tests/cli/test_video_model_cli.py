"""`sciffusion video train | predict | generate` on tiny stores and a tiny randomly initialised model."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sciffusion.cli.main import app
from sciffusion.common.testing.cli import assert_one_line_error as _one_line_error
from sciffusion.domains.video.testing import TINY_MODEL, write_tiny_model as _model

runner = CliRunner()
BUNDLED_CLIP = Path(__file__).resolve().parents[2] / "domains" / "video" / "data" / "udacity_lane_clip.mp4"


def invoke(*args):
    return runner.invoke(app, ["video", *map(str, args)])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    r = invoke("make-smmnist", "--out", root / "s.zarr", "--clips", 3, "--frames", 8, "--size", 16, "--split", "test")
    assert r.exit_code == 0, r.output
    return root


def test_predict_writes_video_compare_and_a_store_evaluate_reads(data, tmp_path):
    from sciffusion.domains.video.zarr_store import open_video_store

    model = _model(tmp_path / "m.ckpt")
    out, store = tmp_path / "p.gif", tmp_path / "p.zarr"
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 3, "--frames", 4,
               "--samples", 2, "--store", store, "--out", out, "--sampler", "euler", "--steps", 2, "--seed", 1)
    assert r.exit_code == 0, r.output
    assert out.is_file() and (tmp_path / "p_compare.gif").is_file()
    pred = open_video_store(store, kind="prediction")
    assert pred.video.shape == (3, 2, 4, 16, 16, 1) and pred.context == 3 and pred.horizon == 4
    assert not np.array_equal(pred.video[:, 0], pred.video[:, 1])  # two different samples
    settings = json.loads(Path(str(out) + ".json").read_text())
    assert settings["sampling"]["sampler"] == "euler" and settings["seed"] == 1
    r = invoke("evaluate", "--pred", store, "--truth", data / "s.zarr", "--out", tmp_path / "rep", "--no-fvd")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["samples"] == 2
    # the same seed gives the same prediction
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 3, "--frames", 4,
               "--samples", 2, "--store", tmp_path / "q.zarr", "--out", tmp_path / "q.gif", "--sampler", "euler",
               "--steps", 2, "--seed", 1)
    assert r.exit_code == 0 and np.array_equal(open_video_store(tmp_path / "q.zarr").video[...], pred.video[...])


def test_evaluate_scores_a_prediction_of_the_first_clips(data, tmp_path):
    """predict --clips 2 on a 3-clip store: evaluate scores those 2 against the truth's first 2 and
    says so (summary truth_clips, 'N of M' in the table); the same store without the record is refused."""
    import zarr

    model = _model(tmp_path / "m.ckpt")
    store = tmp_path / "p.zarr"
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 3, "--frames", 4, "--clips", 2,
               "--store", store, "--out", tmp_path / "p.gif", "--sampler", "euler", "--steps", 1)
    assert r.exit_code == 0, r.output
    r = invoke("evaluate", "--pred", store, "--truth", data / "s.zarr", "--out", tmp_path / "rep", "--no-fvd")
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert (summary["clips"], summary["truth_clips"]) == (2, 3) and "2 of 3" in r.output
    group = zarr.open_group(str(store), mode="r+")
    group.attrs.update({**group.attrs.asdict(), "first_clips": None})
    r = invoke("evaluate", "--pred", store, "--truth", data / "s.zarr", "--out", tmp_path / "rep2", "--no-fvd")
    assert r.exit_code == 2 and "2 clips, but its truth store" in r.output and not (tmp_path / "rep2").exists()


def test_predict_from_a_video_file(tmp_path):
    model = _model(tmp_path / "m.ckpt", channels=3)
    r = invoke("predict", "--model", model, "--input", BUNDLED_CLIP, "--context", 2, "--frames", 3,
               "--out", tmp_path / "p.mp4", "--steps", 1, "--sampler", "euler")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.mp4").stat().st_size > 0 and (tmp_path / "p_compare.mp4").is_file()


def test_predict_from_a_folder_of_frames(tmp_path):
    from PIL import Image

    model = _model(tmp_path / "m.ckpt", channels=1)
    (tmp_path / "seq").mkdir()
    for t in range(6):  # frame t is uniformly 40 t, in RGB: read in natural order and made grey
        Image.fromarray(np.full((20, 30, 3), 40 * t, np.uint8)).save(tmp_path / "seq" / f"{t}.png")
    r = invoke("predict", "--model", model, "--input", tmp_path / "seq", "--context", 4, "--frames", 2,
               "--out", tmp_path / "p.gif", "--steps", 1, "--sampler", "euler")
    assert r.exit_code == 0, r.output
    from sciffusion.pipelines.video.predict import read_clips

    clips, fps, is_store, adapted, refitted = read_clips(tmp_path / "seq", 8, 1, None)
    assert clips.shape == (1, 6, 8, 8, 1) and fps == 10 and not is_store and refitted
    assert clips[0, :, 0, 0, 0].tolist() == [0, 40, 80, 120, 160, 200]
    assert adapted == f"{tmp_path / 'seq'}: 30x20 frames centre-cropped to a square and resized to 8x8 for the model " \
                      "(pass --model for a model of this footage)"  # grey frames stored as RGB: no colour lost
    assert f"note: {tmp_path / 'seq'}: 30x20 frames centre-cropped" in r.output  # the command says so too
    for t in range(6):
        Image.fromarray(np.dstack([np.full((8, 8), 40 * t, np.uint8), np.zeros((8, 8, 2), np.uint8)])).save(
            tmp_path / "seq" / f"{t}.png")
    assert read_clips(tmp_path / "seq", 8, 1, None)[3].startswith(f"{tmp_path / 'seq'}: colour made grey for the model")
    assert read_clips(tmp_path / "seq", 8, 3, None).adapted is None  # the model's size and channels: nothing to say
    assert not read_clips(tmp_path / "seq", 8, 3, None).refitted
    (tmp_path / "two").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "two" / name).write_bytes(BUNDLED_CLIP.read_bytes())
    r = invoke("predict", "--model", model, "--input", tmp_path / "two", "--out", tmp_path / "q.gif")
    assert r.exit_code == 2 and "2 videos or frame folders; give one" in r.output


def test_predict_from_an_npz_of_clips_and_a_plain_store(data, tmp_path):
    """The layouts users keep clips in: an .npz 'clips' array (as 'ood' reads it) and a zarr store written
    by another tool (a 'video' array, no sciffusion attrs). Both predict the same frames as the store they
    were copied from, and say what was assumed; broken .npz files are one-line errors."""
    import zarr

    from sciffusion.domains.video.zarr_store import open_video_store

    model = _model(tmp_path / "m.ckpt")
    clips = open_video_store(data / "s.zarr").video[...]  # uint8 [3, 8, 16, 16, 1]
    np.savez(tmp_path / "c.npz", clips=clips[..., 0], label=np.zeros(3, np.uint8))  # [N, T, H, W]: grey
    plain = zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    plain.create_array("video", shape=clips.shape, chunks=(1,) + clips.shape[1:], dtype="uint8")[...] = clips
    grey = zarr.open_group(str(tmp_path / "grey.zarr"), mode="w")  # grey clips with no channel axis
    grey_video = grey.create_array("video", shape=clips.shape[:4], chunks=(1,) + clips.shape[1:4], dtype="uint8")
    grey_video[...] = clips[..., 0]
    common = ["--model", model, "--context", 3, "--frames", 2, "--sampler", "euler", "--steps", 1, "--seed", 4]
    outputs = {}
    for name, source in (("store", data / "s.zarr"), ("npz", tmp_path / "c.npz"), ("plain", tmp_path / "plain.zarr"),
                         ("grey", tmp_path / "grey.zarr")):
        r = invoke("predict", "--input", source, "--out", tmp_path / f"{name}.gif", *common)
        assert r.exit_code == 0, r.output
        outputs[name] = json.loads(Path(f"{tmp_path / name}.gif.json").read_text())
        if name in ("plain", "grey"):
            assert f"note: {source}: no sciffusion attrs; read as a dataset store" in r.output
    assert "read as grey [N, T, H, W, 1]" in r.output
    from PIL import Image

    frames = {name: np.asarray(Image.open(tmp_path / f"{name}.gif").convert("L")) for name in outputs}
    assert np.array_equal(frames["npz"], frames["store"]) and np.array_equal(frames["plain"], frames["store"])
    assert np.array_equal(frames["grey"], frames["store"])
    # a plain store's frames are the model's as they are: its prediction store is scored against it
    r = invoke("predict", "--input", tmp_path / "grey.zarr", "--out", tmp_path / "g2.gif", "--store",
               tmp_path / "g2.zarr", *common)
    assert r.exit_code == 0, r.output
    r = invoke("evaluate", "--pred", tmp_path / "g2.zarr", "--truth", tmp_path / "grey.zarr", "--out",
               tmp_path / "g2_rep", "--no-fvd")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "g2_rep" / "summary.json").read_text())["clips"] == 3
    r = invoke("predict", "--input", tmp_path / "c.npz", "--out", tmp_path / "s2.gif", "--store", tmp_path / "p.zarr",
               *common)
    _one_line_error(r, "--store: needs a zarr --input")
    np.savez(tmp_path / "images.npz", images=clips[:, 0, ..., 0])
    np.savez(tmp_path / "float.npz", clips=clips.astype(np.float32))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "c.npz").read_bytes()[:200])
    for name, message in (("images.npz", "no 'clips' array (need uint8 [N, T, H, W] or [N, T, H, W, C]; found images)"),
                          ("float.npz", "clips: need uint8 frames, got float32"),
                          ("cut.npz", "not a readable .npz file")):
        r = invoke("predict", "--input", tmp_path / name, "--out", tmp_path / f"{name}.gif", *common)
        _one_line_error(r, f"{tmp_path / name}: {message}")
        assert not (tmp_path / f"{name}.gif").exists()


def test_predict_errors_are_one_line(data, tmp_path):
    model = _model(tmp_path / "m.ckpt")
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 9, "--out", tmp_path / "p.gif")
    assert r.exit_code == 2 and "need at least --context 9" in r.output
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 1, "--out", tmp_path / "p.gif")
    assert r.exit_code == 2 and "error: --context: the model conditions on 2 past frames" in r.output
    r = invoke("predict", "--model", model, "--input", BUNDLED_CLIP, "--store", tmp_path / "x.zarr",
               "--out", tmp_path / "p.gif")
    assert r.exit_code == 2 and "--store: needs a zarr --input" in r.output
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--sampler", "nope", "--out", tmp_path / "p.gif")
    assert r.exit_code == 2 and "--sampler: unknown 'nope'" in r.output
    r = invoke("predict", "--model", tmp_path / "none.ckpt", "--input", data / "s.zarr", "--out", tmp_path / "p.gif")
    assert r.exit_code == 2 and "no such checkpoint file" in r.output


def test_generate_with_event_guidance(tmp_path):
    from sciffusion.domains.video.zarr_store import open_video_store

    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    out = tmp_path / "gen"
    r = invoke("generate", "--model", model, "--event", "collision", "--clips", 3, "--frames", 4, "--out", out,
               "--steps", 2, "--sampler", "heun", "--guidance", 2.0, "--guidance-interval", "0.1,10")
    assert r.exit_code == 0, r.output
    store = open_video_store(out / "clips.zarr")
    assert store.video.shape == (3, 4, 16, 16, 3) and store.labels["event"][...].tolist() == [1, 1, 1]
    assert sorted(p.name for p in out.glob("clip_*")) == [f"clip_00{i}.{s}" for i in range(3) for s in ("gif", "mp4")]
    assert (out / "contact_sheet.png").is_file()
    sampling = json.loads((out / "config.json").read_text())["sampling"]
    assert sampling["guidance_interval"] == [0.1, 10.0] and sampling["guidance"] == 2.0
    assert "negative_event" not in json.loads((out / "config.json").read_text())
    # a negative prompt is recorded by name and by index
    r = invoke("generate", "--model", model, "--event", "collision", "--negative-event", "normal", "--clips", 1,
               "--frames", 2, "--steps", 1, "--out", tmp_path / "gneg")
    assert r.exit_code == 0, r.output
    record = json.loads((tmp_path / "gneg" / "config.json").read_text())
    assert record["negative_event"] == "normal" and record["sampling"]["negative_event"] == 0
    assert record["event_frame"] is None
    # an onset at generated frame 3: recorded, and different clips from the event on every block
    # collisions from nothing begin in the second block by default (T = 3 here): as --event-frame 3 asks
    same = ["--model", model, "--event", "collision", "--clips", 1, "--frames", 4, "--steps", 2, "--guidance", 2.0]
    r = invoke("generate", *same, "--out", tmp_path / "gauto")
    assert r.exit_code == 0 and "beginning in the block of generated frame 3" in r.output, r.output
    record = json.loads((tmp_path / "gauto" / "config.json").read_text())
    assert record["event_frame"] == 3 and record["event_frame_option"] == "auto"
    for name, option in (("gonset", "3"), ("gall", "all")):
        assert invoke("generate", *same, "--event-frame", option, "--out", tmp_path / name).exit_code == 0
    assert json.loads((tmp_path / "gall" / "config.json").read_text())["event_frame"] is None
    auto, onset, everywhere = (open_video_store(tmp_path / n / "clips.zarr").video[...] for n in ("gauto", "gonset", "gall"))
    # what each frame was asked to show: normal before the onset's block, the event from it on
    asked = {n: open_video_store(tmp_path / n / "clips.zarr").labels["asked_event"][...].tolist()
             for n in ("gauto", "gall")}
    assert asked == {"gauto": [[0, 0, 0, 1]], "gall": [[1, 1, 1, 1]]}
    assert auto.shape == (1, 4, 16, 16, 3) and np.array_equal(auto, onset) and not np.array_equal(onset, everywhere)
    r = invoke("generate", "--model", model, "--event", "explosion", "--out", tmp_path / "g2")
    assert r.exit_code == 2 and "--event: must be one of normal, collision, cut-in, near-miss, got 'explosion'" in r.output
    # without an event nothing is guided, and the run's record says so
    r = invoke("generate", "--model", model, "--clips", 1, "--frames", 2, "--out", tmp_path / "g3", "--steps", 1,
               "--guidance", 3.0)
    assert r.exit_code == 0, r.output
    sampling = json.loads((tmp_path / "g3" / "config.json").read_text())["sampling"]
    assert sampling["guidance"] is None and sampling["guidance_interval"] is None
    r = invoke("generate", "--model", model, "--out", out)
    assert r.exit_code == 2 and "already exists" in r.output


def test_generate_event_uses_the_bundled_guide_by_default(tmp_path):
    """generate --event with the bundled event model steers with the bundled event guide at the measured
    scale, and records it; --guide none turns it off (different clips from the same seed)."""
    from sciffusion.domains.video.event_guide import BUNDLED_GUIDE, DEFAULT_GUIDE_SCALE
    from sciffusion.domains.video.zarr_store import open_video_store

    same = ["--event", "cut-in", "--clips", 1, "--frames", 4, "--steps", 2, "--seed", 3]
    assert invoke("generate", *same, "--out", tmp_path / "auto").exit_code == 0
    assert invoke("generate", *same, "--guide", "none", "--out", tmp_path / "off").exit_code == 0
    record = json.loads((tmp_path / "auto" / "config.json").read_text())
    assert record["guide"]["path"] == str(BUNDLED_GUIDE) and record["sampling"]["guide_scale"] == DEFAULT_GUIDE_SCALE
    off = json.loads((tmp_path / "off" / "config.json").read_text())
    assert off["guide"] is None and off["sampling"]["guide_scale"] is None
    guided, plain = (open_video_store(tmp_path / n / "clips.zarr").video[...] for n in ("auto", "off"))
    assert guided.shape == plain.shape == (1, 4, 64, 64, 3) and not np.array_equal(guided, plain)


def test_generate_event_needs_an_event_model(tmp_path):
    r = invoke("generate", "--model", _model(tmp_path / "m.ckpt"), "--event", "cut-in", "--clips", 1,
               "--frames", 2, "--out", tmp_path / "g", "--steps", 1)
    assert r.exit_code == 2 and "trained without event labels" in r.output
    r = invoke("generate", "--model", tmp_path / "m.ckpt", "--event-frame", 1, "--out", tmp_path / "g")
    _one_line_error(r, "--event-frame: needs --event (it is where that event begins)")


def _labelled_store(path, clips=4, frames=6):
    """A driving-like store: clip 1 has an ego collision, clip 3 a cut-in, clips 0 and 2 no event."""
    from sciffusion.domains.video.zarr_store import write_video_store

    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (clips, frames, 16, 16, 3), dtype=np.uint8)
    labels = {name: np.zeros((clips, frames), np.uint8) for name in ("ego_collision", "other_collision", "cut_in",
                                                                    "near_miss")}
    labels["ego_collision"][1, 4] = 1
    labels["cut_in"][3, 2] = 1
    write_video_store(path, video, {"fps": 10.0}, labels)
    return video


def test_generate_from_real_context_uses_normal_clips_only(tmp_path):
    from sciffusion.domains.video.zarr_store import open_video_store

    video = _labelled_store(tmp_path / "d.zarr")
    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    out = tmp_path / "gen"
    r = invoke("generate", "--model", model, "--event", "collision", "--clips", 3, "--frames", 4, "--out", out,
               "--steps", 2, "--sampler", "euler", "--context", tmp_path / "d.zarr", "--context-frames", 3)
    assert r.exit_code == 0, r.output
    assert "after 3 context frames" in r.output
    store = open_video_store(out / "clips.zarr")
    assert store.video.shape == (3, 7, 16, 16, 3)
    assert store.labels["context_clip"][...].tolist() == [0, 2, 0]  # clips with an event are never context
    assert store.labels["asked_event"][...].tolist() == [[-1, -1, -1, 1, 1, 1, 1]] * 3  # nothing asked of real frames
    for i, source in enumerate([0, 2, 0]):
        assert np.array_equal(store.video[i, :3], video[source, :3])  # the real frames come first, unchanged
    assert not np.array_equal(store.video[0, 3:], store.video[2, 3:])  # same context, other noise
    assert json.loads((out / "config.json").read_text())["context_frames"] == 3
    # without an event every clip may start a scenario
    r = invoke("generate", "--model", model, "--clips", 4, "--frames", 2, "--out", tmp_path / "g2", "--steps", 1,
               "--sampler", "euler", "--context", tmp_path / "d.zarr")
    assert r.exit_code == 0, r.output
    store = open_video_store(tmp_path / "g2" / "clips.zarr")
    assert store.labels["context_clip"][...].tolist() == [0, 1, 2, 3] and store.video.shape[1] == 2 + 2


def test_generate_context_errors_are_one_line(tmp_path):
    _labelled_store(tmp_path / "d.zarr")
    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    cases = [(["--context", tmp_path / "nope.zarr"], "--context not found"),
             (["--context-frames", 2], "--context-frames: needs --context"),
             (["--context", tmp_path / "d.zarr", "--context-frames", 1], "conditions on 2 past frames"),
             (["--context", tmp_path / "d.zarr", "--context-frames", 9], "--context-frames needs 9")]
    for extra, message in cases:
        out = tmp_path / "g"
        r = invoke("generate", "--model", model, "--clips", 1, "--frames", 2, "--out", out, "--steps", 1, *extra)
        assert r.exit_code == 2 and message in r.output, (extra, r.output)
        assert len(r.output.strip().splitlines()) == 1 and not out.exists()
    assert invoke("make-smmnist", "--out", tmp_path / "grey.zarr", "--clips", 2, "--frames", 4, "--size", 16).exit_code == 0
    r = invoke("generate", "--model", model, "--clips", 1, "--frames", 2, "--out", tmp_path / "g", "--steps", 1,
               "--context", tmp_path / "grey.zarr")
    _one_line_error(r, f"{tmp_path / 'grey.zarr'}: grey frames (16x16x1), the model takes colour (16x16x3)")
    assert not (tmp_path / "g").exists()


def test_train_command(data, tmp_path):
    cfg = {"model": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY_MODEL.items()},
           "data": {"train": str(data / "s.zarr"), "batch_size": 2, "val_every": 3},
           "schedule": {"max_steps": 2, "val_every": 1, "checkpoint_every": 1}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    r = invoke("train", "--config", tmp_path / "c.json", "--out", tmp_path / "run", "--no-progress")
    assert r.exit_code == 2 and "test-split store" in r.output  # make-smmnist --split test: never trained on
    cfg["data"]["train"] = str(tmp_path / "t.zarr")
    assert invoke("make-smmnist", "--out", tmp_path / "t.zarr", "--clips", 4, "--frames", 6, "--size", 16).exit_code == 0
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    r = invoke("train", "--config", tmp_path / "c.json", "--out", tmp_path / "run", "--no-progress", "--max-steps", 1)
    assert r.exit_code == 0, r.output
    assert "trained 1 steps" in r.output and (tmp_path / "run" / "model.ckpt").is_file()
    from sciffusion.domains.video.model import read_model_file
    from sciffusion.domains.video.zarr_store import open_video_store, video_fingerprint

    fingerprints = read_model_file(tmp_path / "run" / "model.ckpt").meta["data_fingerprints"]
    assert fingerprints == {"train": video_fingerprint(open_video_store(tmp_path / "t.zarr")), "val": None}


def test_generate_goes_through_the_predict_loop_and_does_not_depend_on_batch_order(tmp_path):
    """Lightning's predict loop draws each batch with its own (seed, batch) generator: the clips of a
    batch are the same whether drawn alone or after other batches, and a different seed changes them."""
    from sciffusion.domains.video.zarr_store import open_video_store
    from sciffusion.pipelines.video.generate import batch_seed

    model = _model(tmp_path / "m.ckpt")
    args = ["--model", model, "--frames", 3, "--steps", 1, "--sampler", "euler", "--batch-size", 2]
    assert invoke("generate", *args, "--clips", 4, "--out", tmp_path / "a").exit_code == 0
    assert invoke("generate", *args, "--clips", 2, "--out", tmp_path / "b").exit_code == 0
    r = invoke("generate", *args, "--clips", 2, "--seed", 5, "--out", tmp_path / "c")
    assert r.exit_code == 0, r.output
    a, b, c = (open_video_store(tmp_path / n / "clips.zarr").video[...] for n in "abc")
    assert a.shape == (4, 3, 16, 16, 1) and np.array_equal(a[:2], b)
    assert not np.array_equal(a[2:], a[:2]) and not np.array_equal(b, c)
    assert batch_seed(0, 1) != batch_seed(0, 0) != batch_seed(1, 0)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["devices"] == 1
    r = invoke("generate", *args, "--devices", 0, "--out", tmp_path / "d")
    assert r.exit_code == 2 and "--devices/--num-nodes: must be >= 1" in r.output
    r = invoke("generate", *args, "--clips", 2, "--devices", 2, "--out", tmp_path / "e")  # 1 batch, 2 processes
    assert r.exit_code == 2 and r.output.strip().startswith("error: --devices/--num-nodes: 2 processes but only 1")
    assert not (tmp_path / "e").exists()


@pytest.mark.slow
def test_two_processes_generate_the_same_clips_as_one(tmp_path):
    """--devices 2 on CPU: Lightning's predict loop runs two processes (DDP over gloo), each samples its
    share of the batches, rank 0 gathers and writes them; the clips equal those of one process (per-batch
    seeds), the command exits 0 (the process group is released before exit) and only rank 0 writes."""
    import os
    import subprocess
    import sys

    from sciffusion.domains.video.zarr_store import open_video_store

    model = _model(tmp_path / "m.ckpt")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    clips = {}
    for devices in (1, 2):
        out = tmp_path / f"gen{devices}"
        command = [sys.executable, "-m", "sciffusion.cli.main", "video", "generate", "--model", str(model),
                   "--clips", "3", "--frames", "3", "--steps", "1", "--sampler", "euler", "--batch-size", "1",
                   "--devices", str(devices), "--out", str(out)]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads((out / "config.json").read_text())["devices"] == devices
        clips[devices] = open_video_store(out / "clips.zarr").video[...]
    assert clips[1].shape == (3, 3, 16, 16, 1) and np.array_equal(clips[1], clips[2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen1", "gen2", "m.ckpt"]  # no shard or temp left


def _broken_model(path, **changes):
    content = torch.load(_model(path), weights_only=True)
    torch.save({**content, **changes}, path)
    return path


def test_model_files_with_bad_parts_are_one_line_errors(data, tmp_path):
    from sciffusion.domains.video.model import read_model_file

    content = torch.load(_model(tmp_path / "m.ckpt"), weights_only=True)
    nan_ema = {k: v.clone() for k, v in content["ema"].items()}
    first = next(k for k, v in nan_ema.items() if v.is_floating_point())
    nan_ema[first].fill_(float("nan"))
    cases = [({"ema": torch.zeros(2)}, "'ema' must be a dict of weight tensors, got Tensor"),
             ({"meta": [1, 2]}, "'meta' must be a dict, got list"),
             ({"ema": nan_ema}, f"weight {first!r} holds NaN or inf values"),
             ({"ema": {}}, "weights do not fit the model config (Error(s) in loading state_dict for SpaceTimeUNet: "
                           "Missing key(s)")]
    for i, (changes, message) in enumerate(cases):
        model = _broken_model(tmp_path / f"b{i}.ckpt", **changes)
        r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 3, "--frames", 2,
                   "--out", tmp_path / "p.gif", "--steps", 1, "--sampler", "euler")
        _one_line_error(r, f"{model}: {message}")
        assert not (tmp_path / "p.gif").exists()
    # a block of 0 frames would roll out forever: refused when the file is read
    model = _broken_model(tmp_path / "f0.ckpt", model={**content["model"], "frames": 0})
    with pytest.raises(ValueError, match=r"bad video model config \(frames: need frames >= 1"):
        read_model_file(model)


def test_predict_never_writes_over_its_input_or_one_output_over_another(data, tmp_path):
    from sciffusion.domains.video.zarr_store import open_video_store

    model = _model(tmp_path / "m.ckpt")
    store = data / "s.zarr"
    before = open_video_store(store).video[...]
    args = ["predict", "--model", model, "--input", store, "--context", 3, "--frames", 2, "--steps", 1,
            "--sampler", "euler", "--overwrite"]
    r = invoke(*args, "--out", tmp_path / "p.gif", "--store", store)
    _one_line_error(r, f"--store: {store} is the input")
    r = invoke(*args, "--out", tmp_path / "p.gif", "--compare", tmp_path / "p.gif")
    _one_line_error(r, "--compare: ", "overlaps --out")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(BUNDLED_CLIP.read_bytes())
    r = invoke(*args[:4], clip, *args[5:], "--out", tmp_path / "p.mp4", "--compare", clip)
    _one_line_error(r, f"--compare: {clip} is the input")
    r = invoke(*args, "--out", tmp_path / "clip.mp4" / "p.gif")
    _one_line_error(r, f"--out: {tmp_path / 'clip.mp4' / 'p.gif'}: {clip} is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "m.ckpt"]
    assert clip.read_bytes() == BUNDLED_CLIP.read_bytes()
    assert open_video_store(store, kind="dataset").video[...].tolist() == before.tolist()


def test_generate_never_replaces_its_model_or_context(tmp_path):
    _labelled_store(tmp_path / "d.zarr")
    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    size = model.stat().st_size
    args = ["generate", "--model", model, "--clips", 1, "--frames", 2, "--steps", 1, "--overwrite"]
    _one_line_error(invoke(*args, "--out", model), f"--out: {model} is the input")
    _one_line_error(invoke(*args, "--out", tmp_path, "--context", tmp_path / "d.zarr"), "--out: ", "the input")
    _one_line_error(invoke(*args, "--out", tmp_path / "d.zarr", "--context", tmp_path / "d.zarr"), "the input")
    (tmp_path / "notes.txt").write_text("mine")
    _one_line_error(invoke(*args, "--out", tmp_path / "notes.txt"), "is an existing file; this output is a folder")
    assert model.stat().st_size == size and (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.zarr", "m.ckpt", "notes.txt"]


@pytest.mark.parametrize("option, message", [
    (["--guidance-interval", "5,1"], "--guidance-interval: need 0 <= LO <= HI in sigma units, got 5,1"),
    (["--guidance-interval", "nan,1"], "--guidance-interval: need 0 <= LO <= HI"),
    (["--guidance", "nan"], "--guidance: must be a finite number >= 0, got nan"),
    (["--guidance", "-2"], "--guidance: must be a finite number >= 0, got -2.0"),
    (["--negative-event", "explosion"], "--negative-event: must be one of normal, collision, cut-in, near-miss"),
    (["--negative-event", "collision"], "--negative-event: ego_collision is --event itself"),
    (["--event-frame", "2"], "--event-frame: must be a generated frame, 0 to 1 (--frames 2), got 2"),
    (["--event-frame", "-1"], "--event-frame: must be a generated frame, 0 to 1"),
    (["--event-frame", "soon"], "--event-frame: auto, all or a generated frame 0 to 1, got 'soon'"),
    (["--fps", "inf"], "--fps: need a finite frame rate >= 0.0015 fps"),
    (["--fps", "0.001"], "--fps: need a finite frame rate >= 0.0015 fps"),
])
def test_generate_refuses_bad_guidance_and_frame_rates_before_any_work(tmp_path, option, message):
    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    r = invoke("generate", "--model", model, "--event", "collision", "--clips", 1, "--frames", 2, "--steps", 1,
               "--out", tmp_path / "g", *option)
    _one_line_error(r, message)
    assert not (tmp_path / "g").exists()


def test_train_input_errors_are_one_line_and_write_nothing(tmp_path):
    assert invoke("make-smmnist", "--out", tmp_path / "t.zarr", "--clips", 4, "--frames", 6, "--size", 16).exit_code == 0
    cfg = {"model": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY_MODEL.items()},
           "data": {"train": str(tmp_path / "t.zarr"), "batch_size": 2}, "schedule": {"max_steps": 1}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    args = ["train", "--config", tmp_path / "c.json", "--no-progress"]
    store_files = sorted(p.name for p in (tmp_path / "t.zarr").iterdir())
    _one_line_error(invoke(*args, "--out", tmp_path / "t.zarr"), f"--out: {tmp_path / 't.zarr'} is the data input")
    _one_line_error(invoke(*args, "--out", tmp_path / "t.zarr" / "run"), "lies inside the data input")
    (tmp_path / "notes.txt").write_text("mine")
    for out in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "run"):  # [Errno 17] / [Errno 20] before
        _one_line_error(invoke(*args, "--out", out), f"--out: {out}: {tmp_path / 'notes.txt'} is a file; RUN_DIR is a folder")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "t.zarr").iterdir()) == store_files
    if not torch.cuda.is_available():
        _one_line_error(invoke(*args, "--out", tmp_path / "gpu", "--accelerator", "gpu"),
                        "--accelerator: gpu requested but CUDA is not available here")
        assert not (tmp_path / "gpu").exists()
    _one_line_error(invoke(*args, "--out", tmp_path / "m0", "--minutes", 0), "--minutes (schedule.minutes): must be")
    assert not (tmp_path / "m0").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.ckpt").write_bytes(b"cut short")
    _one_line_error(invoke(*args, "--out", run, "--resume"), f"{run / 'last.ckpt'}: ")
    (run / "config.json").write_text("{")
    _one_line_error(invoke(*args, "--out", run, "--resume"), f"{run / 'config.json'}: not valid JSON")
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "last.ckpt"]


def test_predict_refuses_a_store_rate_no_gif_can_hold_before_sampling(tmp_path):
    from sciffusion.domains.video.zarr_store import write_video_store

    video = np.random.default_rng(0).integers(0, 256, (2, 6, 16, 16, 1), dtype=np.uint8)
    write_video_store(tmp_path / "slow.zarr", video, {"fps": 1e-4})
    r = invoke("predict", "--model", _model(tmp_path / "m.ckpt"), "--input", tmp_path / "slow.zarr", "--context", 2,
               "--frames", 2, "--out", tmp_path / "p.gif", "--steps", 1)
    _one_line_error(r, f"{tmp_path / 'slow.zarr'}: fps: need a finite frame rate >= 0.0015 fps", "got 0.0001")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt", "slow.zarr"]


def test_predict_without_model_picks_the_bundled_model_by_colour(data, tmp_path, monkeypatch):
    """No --model: grey clips go to the SM-MNIST model, colour footage to the driving prediction model (a
    grey SM-MNIST model would have made a dash-cam clip grey), never to the event model; the command says
    which file it used."""
    from PIL import Image

    from sciffusion.domains.video import model as model_module
    from sciffusion.pipelines.video.predict import bundled_model_for

    grey_model, colour_model = _model(tmp_path / "g.pt", channels=1), _model(tmp_path / "c.pt", channels=3)
    monkeypatch.setitem(model_module.BUNDLED_MODELS, "smmnist", grey_model)
    monkeypatch.setitem(model_module.BUNDLED_MODELS, "driving-predict", colour_model)
    monkeypatch.setitem(model_module.BUNDLED_MODELS, "driving", tmp_path / "absent_event_model.pt")
    assert bundled_model_for(data / "s.zarr") == "smmnist" and bundled_model_for(BUNDLED_CLIP) == "driving-predict"
    for source, expected, channels in ((BUNDLED_CLIP, colour_model, 3), (data / "s.zarr", grey_model, 1)):
        out = tmp_path / f"{expected.stem}.gif"
        r = invoke("predict", "--input", source, "--context", 2, "--frames", 2, "--out", out, "--steps", 1,
                   "--sampler", "euler", "--clips", 1)
        assert r.exit_code == 0, r.output
        assert f"note: no --model: using the bundled {expected.name} for {source}" in r.output
        assert json.loads(Path(str(out) + ".json").read_text())["model"] == str(expected)
    (tmp_path / "seq").mkdir()  # grey frames saved as RGB PNGs: grey
    for t in range(4):
        Image.fromarray(np.full((16, 16, 3), 50 * t, np.uint8)).save(tmp_path / "seq" / f"{t}.png")
    assert bundled_model_for(tmp_path / "seq") == "smmnist"
    r = invoke("generate", "--context", BUNDLED_CLIP, "--clips", 1, "--frames", 2, "--steps", 1,
               "--sampler", "euler", "--out", tmp_path / "gen")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "gen" / "config.json").read_text())["model"] == str(colour_model)


def test_predict_takes_the_sampling_the_user_left_unset_from_the_model_file(data, tmp_path):
    """A model file recommending dpmpp_2m, 3 steps, warm start 0.5 (meta 'predict', as video train writes
    it from a config's predict section): predict without those options uses them and says so; a given
    option wins, and --init-sigma 0 turns the recommended warm start off. A file without a recommendation
    keeps the plain defaults; a bad recommendation is a one-line error naming the file."""
    plain = _model(tmp_path / "plain.ckpt")
    model = _broken_model(tmp_path / "m.ckpt", meta={"step": 0, "predict": {"sampler": "euler", "steps": 3,
                                                                            "init_sigma": 0.5}})

    def run(model_path, name, *options):
        out = tmp_path / f"{name}.gif"
        r = invoke("predict", "--model", model_path, "--input", data / "s.zarr", "--context", 3, "--frames", 2,
                   "--out", out, "--clips", 1, *options)
        assert r.exit_code == 0, r.output
        return json.loads(Path(str(out) + ".json").read_text()), r.output

    settings, output = run(model, "rec")
    assert (settings["sampling"]["sampler"], settings["sampling"]["steps"], settings["sampling"]["init_sigma"]) == \
        ("euler", 3, 0.5)
    assert settings["sampling_from_model"] == {"sampler": "euler", "steps": 3, "init_sigma": 0.5}
    assert "--init-sigma 0.5 from m.ckpt" in output
    settings, output = run(model, "given", "--steps", 2, "--init-sigma", 0, "--sampler", "heun")
    assert (settings["sampling"]["sampler"], settings["sampling"]["steps"], settings["sampling"]["init_sigma"]) == \
        ("heun", 2, None)
    assert settings["sampling_from_model"] == {} and "recommended" not in output
    settings, _ = run(plain, "plain", "--steps", 1)
    assert settings["sampling"]["sampler"] == "dpmpp_2m" and settings["sampling"]["init_sigma"] is None
    bad = _broken_model(tmp_path / "bad.ckpt", meta={"predict": {"sampler": "nope"}})
    r = invoke("predict", "--model", bad, "--input", data / "s.zarr", "--context", 3, "--frames", 2,
               "--out", tmp_path / "bad.gif")
    _one_line_error(r, f"{bad}: meta 'predict': --sampler: unknown 'nope'")
    assert not (tmp_path / "bad.gif").exists()


def test_train_writes_the_config_predict_section_into_the_model_file(data, tmp_path):
    from sciffusion.domains.video.model import read_model_file

    assert invoke("make-smmnist", "--out", tmp_path / "t.zarr", "--clips", 4, "--frames", 6, "--size", 16).exit_code == 0
    cfg = {"model": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY_MODEL.items()},
           "data": {"train": str(tmp_path / "t.zarr"), "batch_size": 2, "val_every": 3},
           "schedule": {"max_steps": 1, "val_every": 1, "checkpoint_every": 1},
           "predict": {"steps": 7, "init_sigma": 0.2}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    r = invoke("train", "--config", tmp_path / "c.json", "--out", tmp_path / "run", "--no-progress")
    assert r.exit_code == 0, r.output
    assert read_model_file(tmp_path / "run" / "model.ckpt").meta["predict"] == {"steps": 7, "init_sigma": 0.2}
    (tmp_path / "c.json").write_text(json.dumps({**cfg, "predict": {"steps": 0}}))
    r = invoke("train", "--config", tmp_path / "c.json", "--out", tmp_path / "run2", "--no-progress")
    _one_line_error(r, f"{tmp_path / 'c.json'}: predict: --steps: must be >= 1, got 0")
    assert not (tmp_path / "run2").exists()


def test_predict_brings_a_store_of_other_frames_to_the_model_unless_a_prediction_store_is_asked(tmp_path):
    """A 32-px colour store and a 16-px grey model: predict resizes and greys the frames as it does for
    footage, says so, and writes its video at the model's size; with --store (which evaluate scores against
    the store's own frames) it is a one-line error and nothing is written."""
    from PIL import Image

    from sciffusion.domains.video.zarr_store import write_video_store

    video = np.random.default_rng(0).integers(0, 256, (2, 6, 32, 32, 3), dtype=np.uint8)
    write_video_store(tmp_path / "big.zarr", video, {"fps": 10.0})
    model = _model(tmp_path / "m.ckpt")
    args = ["predict", "--model", model, "--input", tmp_path / "big.zarr", "--context", 3, "--frames", 2,
            "--steps", 1, "--sampler", "euler"]
    r = invoke(*args, "--out", tmp_path / "s.gif", "--store", tmp_path / "s.zarr")
    _one_line_error(r, "--store: the model predicts 16x16x1 frames and")
    assert not any(tmp_path.glob("s*"))
    r = invoke(*args, "--out", tmp_path / "p.gif")
    assert r.exit_code == 0, r.output
    assert "32x32 frames resized to 16x16, colour made grey for the model" in r.output
    with Image.open(tmp_path / "p.gif") as gif:
        assert gif.size == (16, 16) and gif.n_frames == 5


def test_generate_from_a_store_of_other_frames_says_it_resized_them(tmp_path):
    from sciffusion.domains.video.zarr_store import open_video_store, write_video_store

    video = np.random.default_rng(1).integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8)
    write_video_store(tmp_path / "big.zarr", video, {"fps": 10.0})
    model = _model(tmp_path / "m.ckpt", channels=3)
    r = invoke("generate", "--model", model, "--clips", 1, "--frames", 2, "--out", tmp_path / "g", "--steps", 1,
               "--sampler", "euler", "--context", tmp_path / "big.zarr")
    assert r.exit_code == 0, r.output
    assert "32x32 frames resized to 16x16 for the model" in r.output
    assert open_video_store(tmp_path / "g" / "clips.zarr").video.shape == (1, 4, 16, 16, 3)
    assert "resized" in json.loads((tmp_path / "g" / "config.json").read_text())["context_adapted"]


def test_predict_warns_when_the_model_denoises_the_input_badly(data, tmp_path, monkeypatch):
    """The domain check's verdict reaches the user: a warning line above UNLIKE_TRAINING_GAIN, none below,
    and the gain in the settings either way (the gain itself is tested on a closed form)."""
    import sciffusion.domains.video.sampling as sampling
    from sciffusion.pipelines.video.predict import UNLIKE_TRAINING_GAIN

    model = _model(tmp_path / "m.ckpt")
    for name, gain in (("far", 1.3), ("near", 0.05)):
        monkeypatch.setattr(sampling, "denoising_gain", lambda m, clips, sigma, generator, g=gain:
                            torch.full((len(clips),), g))
        out = tmp_path / f"{name}.gif"
        r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 6, "--frames", 2,
                   "--out", out, "--steps", 1, "--sampler", "euler")
        assert r.exit_code == 0, r.output
        assert ("warning:" in r.output and "denoises these frames badly (error 1.30" in r.output) == \
            (gain > UNLIKE_TRAINING_GAIN)
        assert json.loads(Path(str(out) + ".json").read_text())["denoising_gain"] == pytest.approx(gain)
    # a context shorter than the model's window: the whole input clips are checked instead
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--context", 3, "--frames", 2,
               "--out", tmp_path / "short.gif", "--steps", 1, "--sampler", "euler")
    assert r.exit_code == 0 and "warning" not in r.output
    assert json.loads((tmp_path / "short.gif.json").read_text())["denoising_gain"] == pytest.approx(0.05)


def test_the_domain_warning_comes_before_sampling(data, tmp_path, monkeypatch):
    """A user sees the warning (and the notes) before waiting for the samples: sampling that fails still
    leaves the warning above its error, for predict and for generate --context."""
    import sciffusion.domains.video.sampling as sampling
    import sciffusion.pipelines.video.generate as generate
    import sciffusion.pipelines.video.predict as predict

    def no_sampling(*args, **kwargs):
        raise ValueError("sampling reached")

    monkeypatch.setattr(sampling, "denoising_gain", lambda m, clips, sigma, generator: torch.full((len(clips),), 2.0))
    monkeypatch.setattr(predict, "predict_clips", no_sampling)
    monkeypatch.setattr(generate, "_sample_clips", no_sampling)
    r = invoke("predict", "--model", _model(tmp_path / "m.ckpt"), "--input", data / "s.zarr", "--context", 6,
               "--frames", 2, "--out", tmp_path / "p.gif", "--steps", 1, "--sampler", "euler")
    assert r.exit_code != 0 and "sampling reached" in r.output
    assert 0 <= r.output.index("denoises these frames badly") < r.output.index("sampling reached")
    assert not (tmp_path / "p.gif").exists()
    _labelled_store(tmp_path / "d.zarr")
    r = invoke("generate", "--model", _model(tmp_path / "e.ckpt", channels=3, events=True), "--clips", 1,
               "--frames", 2, "--out", tmp_path / "g", "--steps", 1, "--sampler", "euler", "--context",
               tmp_path / "d.zarr")
    assert r.exit_code != 0 and "sampling reached" in r.output
    assert 0 <= r.output.index("denoises these frames badly") < r.output.index("sampling reached")
    assert not (tmp_path / "g").exists()


def test_generate_from_context_warns_when_the_model_denoises_it_badly(tmp_path, monkeypatch):
    import sciffusion.domains.video.sampling as sampling

    _labelled_store(tmp_path / "d.zarr")
    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    monkeypatch.setattr(sampling, "denoising_gain", lambda m, clips, sigma, generator: torch.full((len(clips),), 2.0))
    r = invoke("generate", "--model", model, "--clips", 1, "--frames", 2, "--out", tmp_path / "g", "--steps", 1,
               "--sampler", "euler", "--context", tmp_path / "d.zarr")
    assert r.exit_code == 0, r.output
    assert f"warning: {tmp_path / 'd.zarr'}: the model denoises these frames badly (error 2.00" in r.output
    assert json.loads((tmp_path / "g" / "config.json").read_text())["denoising_gain"] == 2.0


def test_predict_counts_every_predicted_frame_and_says_when_clips_are_fewer_than_asked(data, tmp_path):
    """The bar's total (known once the input is read) is what the bar counts: clips x samples x frames; more
    --clips than the input holds is a note, not silence."""
    from sciffusion.pipelines.video.predict import PredictConfig, predict
    from sciffusion.domains.video.sampling import SamplingConfig
    from sciffusion.pipelines.video.sampling_run import SamplingRun

    model = _model(tmp_path / "m.ckpt")
    counted, seen = [], {}
    cfg = PredictConfig(input=data / "s.zarr", out=tmp_path / "p.gif", context=3, frames=5, samples=2, clips=2,
                        run=SamplingRun(model=model, sampling=SamplingConfig(sampler="euler", steps=1), batch_size=2))
    predict(cfg, counted.append, checked=seen.update)
    assert seen["frames_total"] == 2 * 2 * 5 == sum(counted) and seen["clips_capped"] is None
    r = invoke("predict", "--model", model, "--input", data / "s.zarr", "--clips", 5, "--context", 3, "--frames", 2,
               "--sampler", "euler", "--steps", 1, "--out", tmp_path / "q.gif")
    assert r.exit_code == 0, r.output
    assert f"note: --clips 5: {data / 's.zarr'} holds 3 clip(s), all 3 are predicted" in r.output
    assert "for 3 clip(s)" in r.output


def test_generate_counts_every_generated_frame(tmp_path):
    """The bar's total is clips x frames, and that is what it counts (3 clips in batches of 2, 5 frames)."""
    from sciffusion.domains.video.sampling import SamplingConfig
    from sciffusion.pipelines.video.generate import GenerateConfig, generate
    from sciffusion.pipelines.video.sampling_run import SamplingRun

    model = _model(tmp_path / "m.ckpt")
    counted = []
    generate(GenerateConfig(out=tmp_path / "g", clips=3, frames=5,
                            run=SamplingRun(model=model, sampling=SamplingConfig(sampler="euler", steps=1),
                                            batch_size=2)), counted.append)
    assert sum(counted) == 3 * 5 and len(counted) == 2 * 2  # two batches, two blocks of T = 3 frames each


def test_train_guide_and_generate_with_it(tmp_path):
    """`video train-guide` on a tiny labelled store writes guide.pt and its curves; `generate --guide` steers
    the clips (different from scale 0) and records the guide; bad uses are one-line errors."""
    from sciffusion.domains.video.zarr_store import open_video_store

    model = _model(tmp_path / "m.ckpt", channels=3, events=True)
    _labelled_store(tmp_path / "d.zarr", clips=12, frames=6)
    run = tmp_path / "guide"
    r = invoke("train-guide", "--data", tmp_path / "d.zarr", "--model", model, "--out", run, "--max-steps", 3,
               "--batch-size", 4, "--width", 4, "--val-every", 2, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "trained 3 steps (32-true)" in r.output and {p.name for p in run.iterdir()} >= {
        "guide.pt", "curves.csv", "curves.png", "config.json"}
    record = json.loads((run / "config.json").read_text())
    assert record["command"] == "sciffusion video train-guide" and record["net"]["frames"] == 3
    assert record["precision"] == "32-true"
    r = invoke("train-guide", "--data", tmp_path / "d.zarr", "--model", model, "--out", run, "--max-steps", 1)
    _one_line_error(r, "exists and is not an empty folder")
    # --init-from continues a guide: its network (width 4) is kept, its weights are the start
    more = tmp_path / "guide_more"
    r = invoke("train-guide", "--data", tmp_path / "d.zarr", "--model", model, "--out", more, "--max-steps", 1,
               "--batch-size", 4, "--width", 9, "--init-from", run / "guide.pt", "--no-progress")
    assert r.exit_code == 0, r.output
    from sciffusion.domains.video.event_guide import read_guide_file

    first, second = read_guide_file(run / "guide.pt"), read_guide_file(more / "guide.pt")
    assert second.config == first.config and second.meta["steps_before"] == 3 and second.meta["steps"] == 1
    assert all(torch.allclose(a, b, atol=0.1) for a, b in zip(first.net.state_dict().values(),
                                                              second.net.state_dict().values()))
    _one_line_error(invoke("train-guide", "--data", tmp_path / "d.zarr", "--model", model, "--out", tmp_path / "x",
                           "--init-from", tmp_path / "none.pt"), "--init-from not found")
    _one_line_error(invoke("train-guide", "--data", tmp_path / "d.zarr", "--model", model, "--out", tmp_path / "x",
                           "--precision", "fp8"), "--precision: must be one of auto, 32-true")
    assert not (tmp_path / "x").exists()
    # a store without event labels, or whose training clips show no event, is refused before any output
    from sciffusion.domains.video.zarr_store import write_video_store

    video = np.random.default_rng(1).integers(0, 256, (12, 6, 16, 16, 3), dtype=np.uint8)
    write_video_store(tmp_path / "unlabelled.zarr", video, {"fps": 10.0})
    quiet = {n: np.zeros((12, 6), np.uint8) for n in ("ego_collision", "other_collision", "cut_in", "near_miss")}
    write_video_store(tmp_path / "quiet.zarr", video, {"fps": 10.0}, quiet)
    for store, message in (("unlabelled.zarr", "no event labels"), ("quiet.zarr", "no training clip with an event")):
        _one_line_error(invoke("train-guide", "--data", tmp_path / store, "--model", model, "--out", tmp_path / "y",
                               "--max-steps", 1), message)
        assert not (tmp_path / "y").exists()
    same = ["--model", model, "--event", "cut-in", "--clips", 2, "--frames", 3, "--steps", 2, "--guidance", 1.0]
    assert invoke("generate", *same, "--out", tmp_path / "g0").exit_code == 0
    r = invoke("generate", *same, "--guide", run / "guide.pt", "--guide-scale", 50, "--out", tmp_path / "g1")
    assert r.exit_code == 0, r.output
    plain, steered = (open_video_store(tmp_path / n / "clips.zarr").video[...] for n in ("g0", "g1"))
    assert plain.shape == steered.shape and not np.array_equal(plain, steered)
    saved = json.loads((tmp_path / "g1" / "config.json").read_text())
    assert saved["guide"]["path"] == str(run / "guide.pt") and saved["sampling"]["guide_scale"] == 50
    assert json.loads((tmp_path / "g0" / "config.json").read_text())["guide"] is None
    _one_line_error(invoke("generate", *same, "--guide-scale", 2, "--out", tmp_path / "g2"),
                    "--guide-scale: needs --guide")
    _one_line_error(invoke("generate", "--model", model, "--guide", run / "guide.pt", "--out", tmp_path / "g3"),
                    "--guide: needs --event")
    _one_line_error(invoke("generate", *same, "--guide", model, "--guide-scale", 1, "--out", tmp_path / "g4"),
                    "not a video event guide file")
    other = _model(tmp_path / "m2.ckpt", channels=3, events=True, past_frames=1)
    _one_line_error(invoke("generate", "--model", other, "--event", "cut-in", "--guide", run / "guide.pt",
                           "--guide-scale", 1, "--out", tmp_path / "g5"), "the event guide reads")
    assert not any((tmp_path / n).exists() for n in ("g2", "g3", "g4", "g5"))
