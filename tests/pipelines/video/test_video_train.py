import json
import logging
from pathlib import Path

import pytest
import torch

from sciffusion.domains.video.model import read_model_file, training_steps
from sciffusion.pipelines.video.train import VideoTrainRunConfig, run_train
from sciffusion.pipelines.video.train_config import CONFIG_DIR, VideoTrainConfig, load_train_config

TINY = {"model": {"arch": "spacetime", "size": 16, "past_frames": 2, "frames": 3, "base_channels": 8,
                  "channel_mults": [1, 2], "spatial_attention": [False, False], "temporal_attention": [False, True],
                  "heads": 2, "groups": 4, "embed_dim": 16},
        "train": {"lr": 1e-3, "ema_decay": 0.9},
        "data": {"batch_size": 4, "val_every": 4, "val_clips": 4},
        "schedule": {"max_steps": 4, "val_every": 2, "checkpoint_every": 2, "log_every": 1}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig
    from sciffusion.pipelines.video.make_smmnist import MakeSMMNISTConfig, make_smmnist

    path = tmp_path_factory.mktemp("data") / "s.zarr"
    return make_smmnist(MakeSMMNISTConfig(out=path, data=SMMNISTConfig(clips=16, frames=8, size=16)))


def _config(store, **schedule):
    d = json.loads(json.dumps(TINY))
    d["data"]["train"] = str(store)
    d["schedule"].update(schedule)
    return VideoTrainConfig.from_dict(d)


def test_train_writes_run_files_and_a_loadable_model(store, tmp_path, caplog):
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="pytorch_lightning"):
        result = run_train(VideoTrainRunConfig(out=out, config=_config(store), progress=False))
    assert result["steps"] == 4 and result["stopped"] == "steps"
    assert "GPU available" not in caplog.text and "Tip:" not in caplog.text  # no start-up banners
    for name in ("last.ckpt", "model.ckpt", "curves.csv", "curves.png", "config.json"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"] == _config(store).to_dict()  # the resolved config beside the checkpoint
    assert saved["stores"]["train"]["clips"] == 12 and saved["stores"]["val"]["clips"] == 4
    assert saved["precision"] == result["precision"] == "32-true"  # the config's, as it ran
    rows = (out / "curves.csv").read_text().splitlines()
    assert rows[0] == "step,train_loss,val_loss" and len(rows) == 5
    assert rows[2].split(",")[2] != "" and rows[4].split(",")[2] != ""  # val at steps 2 and 4
    model = read_model_file(out / "model.ckpt")
    assert model.meta["step"] == 4 and model.config.frames == 3
    with pytest.raises(ValueError, match="already holds a run"):
        run_train(VideoTrainRunConfig(out=out, config=_config(store), progress=False))


def test_resume_after_a_stop_continues_to_the_budget(store, tmp_path):
    out = tmp_path / "run"
    run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=2), progress=False))
    first = torch.load(out / "last.ckpt", weights_only=False)
    assert first["global_step"] == 2
    result = run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=4), resume=True, progress=False))
    assert result["steps"] == 4
    steps = [int(r.split(",")[0]) for r in (out / "curves.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4]  # rows of the first part kept, none repeated
    other = json.loads(json.dumps(TINY))
    other["data"]["train"] = str(store)
    other["model"]["base_channels"] = 16
    with pytest.raises(ValueError, match="different 'model' config"):
        run_train(VideoTrainRunConfig(out=out, config=VideoTrainConfig.from_dict(other), resume=True, progress=False))


def test_init_from_starts_a_fresh_run_from_a_model_files_weights(store, tmp_path):
    first = tmp_path / "first"
    run_train(VideoTrainRunConfig(out=first, config=_config(store, max_steps=2), progress=False))
    start = read_model_file(first / "model.ckpt").net.state_dict()
    tuned = tmp_path / "tuned"
    still = json.loads(json.dumps(_config(store, max_steps=1, checkpoint_every=1).to_dict()))
    still["train"]["lr"] = 1e-12  # one step that cannot move the weights: the model file holds the start
    result = run_train(VideoTrainRunConfig(out=tuned, config=VideoTrainConfig.from_dict(still),
                                           init_from=first / "model.ckpt", progress=False))
    assert result["steps"] == 1  # a fresh run: its own step count
    record = json.loads((tuned / "config.json").read_text())["init_from"]
    assert record["path"] == str(first / "model.ckpt") and record["step"] == 2 and len(record["sha256"]) == 64
    tuned_model = read_model_file(tuned / "model.ckpt")
    assert tuned_model.meta["step"] == 1 and tuned_model.meta["total_steps"] == 3  # its own 1 + the start's 2
    assert tuned_model.meta["init_from"] == {"file": "model.ckpt", "sha256": record["sha256"], "step": 2,
                                             "total_steps": 2}
    assert training_steps(tuned_model.meta) == 3 and training_steps(read_model_file(first / "model.ckpt").meta) == 2
    assert "total_steps" not in read_model_file(first / "model.ckpt").meta  # a run from scratch: step says it all
    after = tuned_model.net.state_dict()
    assert all(torch.allclose(after[k], start[k], atol=1e-6) for k in start if start[k].is_floating_point())
    still["train"]["seed"] = 1  # the negative control: the same run without --init-from starts elsewhere
    run_train(VideoTrainRunConfig(out=tmp_path / "fresh", config=VideoTrainConfig.from_dict(still), progress=False))
    unrelated = read_model_file(tmp_path / "fresh" / "model.ckpt").net.state_dict()
    assert not all(torch.allclose(unrelated[k], start[k], atol=1e-6) for k in start if start[k].is_floating_point())
    # a resumed fine-tuning run keeps its record; a different model section is refused in one line
    still["train"]["seed"], still["schedule"]["max_steps"] = 0, 2
    run_train(VideoTrainRunConfig(out=tuned, config=VideoTrainConfig.from_dict(still), resume=True,
                                  init_from=first / "model.ckpt", progress=False))
    assert json.loads((tuned / "config.json").read_text())["init_from"] == record
    assert read_model_file(tuned / "model.ckpt").meta["total_steps"] == 4  # resumed to 2 steps: 2 + 2
    other = json.loads(json.dumps(TINY))
    other["data"]["train"] = str(store)
    other["model"]["base_channels"] = 16
    with pytest.raises(ValueError, match="differs from the config's model section in base_channels"):
        run_train(VideoTrainRunConfig(out=tmp_path / "other", config=VideoTrainConfig.from_dict(other),
                                      init_from=first / "model.ckpt", progress=False))
    with pytest.raises(FileNotFoundError, match="--init-from"):
        VideoTrainRunConfig(out=tmp_path / "x", config=_config(store), init_from=tmp_path / "missing.ckpt")


def test_a_run_saved_before_a_model_option_existed_resumes(store, tmp_path):
    out = tmp_path / "run"
    run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=2), progress=False))
    saved = json.loads((out / "config.json").read_text())
    del saved["config"]["model"]["past_channels"]  # as written before the option was added (default 0)
    (out / "config.json").write_text(json.dumps(saved))
    result = run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=3), resume=True, progress=False))
    assert result["steps"] == 3
    saved = json.loads((out / "config.json").read_text())
    saved["config"]["model"]["past_channels"] = 1  # a real difference is still refused
    (out / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="different 'model' config"):
        run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=4), resume=True, progress=False))


def test_auto_precision_is_recorded_as_what_ran(store, tmp_path):
    """schedule.precision auto resolves on this machine (bf16 mixed on a CPU with bf16 instructions); the run's
    config.json keeps the config's 'auto' and, beside it, the precision that ran."""
    from sciffusion.common.training.precision import resolve_precision

    config = _config(store).with_overrides(max_steps=2, precision="auto")
    result = run_train(VideoTrainRunConfig(out=tmp_path / "r", config=config, accelerator="cpu", progress=False))
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["config"]["schedule"]["precision"] == "auto"
    assert saved["precision"] == result["precision"] == resolve_precision("auto", "cpu") != "auto"
    assert result["steps"] == 2


def test_frames_must_fit_the_model(store, tmp_path):
    d = json.loads(json.dumps(TINY))
    d["data"]["train"] = str(store)
    d["model"]["size"] = 32
    with pytest.raises(ValueError, match="frames are 16x16x1, the model section says 32x32x1"):
        run_train(VideoTrainRunConfig(out=tmp_path / "r", config=VideoTrainConfig.from_dict(d), progress=False))


def test_yaml_and_json_configs_agree_and_bundled_ones_load(tmp_path):
    import yaml

    d = json.loads(json.dumps(TINY))
    d["data"]["train"] = "x.zarr"
    (tmp_path / "c.json").write_text(json.dumps(d))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    assert load_train_config(tmp_path / "c.json") == load_train_config(tmp_path / "c.yaml")
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert {"cpu_smmnist", "gpu_smmnist", "cpu_driving", "gpu_driving", "cpu_smmnist_concat", "cpu_driving_concat"} <= set(names)
    for name in names:
        cfg = load_train_config(name)
        assert cfg.schedule.max_steps or cfg.schedule.minutes
    assert load_train_config("gpu_smmnist").schedule.precision == "bf16-mixed"
    cpu = load_train_config("cpu_smmnist")
    assert cpu.schedule.precision == "32-true" and cpu.with_overrides(precision="auto").schedule.precision == "auto"
    assert cpu.with_overrides(max_steps=5).schedule.precision == "32-true"  # None keeps the config's
    with pytest.raises(ValueError, match="--precision: must be one of auto, 32-true"):
        cpu.with_overrides(precision="fp8")
    assert load_train_config("cpu_driving").train.cond_dropout > 0 and load_train_config("cpu_driving").data.balance_events
    moving, plain = load_train_config("cpu_driving_moving"), load_train_config("cpu_driving")
    assert moving.data.change_weight == 3.0 and plain.data.change_weight == 0.0
    assert moving.model == plain.model  # the same network: fine-tunes the cpu_driving weights
    d["schedule"]["speed"] = 2
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"bad.json: schedule: unknown keys \['speed'\]"):
        load_train_config(tmp_path / "bad.json")
    (tmp_path / "broken.yaml").write_text("model: [")
    with pytest.raises(ValueError, match="broken.yaml: not valid YAML"):
        load_train_config(tmp_path / "broken.yaml")


def test_a_config_without_a_store_takes_the_command_lines(tmp_path):
    d = json.loads(json.dumps(TINY))  # the user's own config, no data.train in it
    (tmp_path / "mine.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"mine.json: data: 'train' .* is required \(or give --data\)"):
        load_train_config(tmp_path / "mine.json")
    assert load_train_config(tmp_path / "mine.json", tmp_path / "clips.zarr").data.train == tmp_path / "clips.zarr"
    assert load_train_config("cpu_smmnist", tmp_path / "clips.zarr").data.train == tmp_path / "clips.zarr"


def test_ctrl_c_saves_the_step_reached_and_resume_continues(store, tmp_path, monkeypatch):
    """Ctrl-C at step 3 with checkpoints due only every 100 steps: the run files hold step 3 (not step 0),
    the interrupt says so in its message, and --resume finishes the budget without repeating a step."""
    import signal

    from sciffusion.common.training.module import DiffusionModule

    step = DiffusionModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.global_step == 3:
            raise KeyboardInterrupt
        return step(self, batch, batch_idx)

    monkeypatch.setattr(DiffusionModule, "training_step", interrupted)
    handler = signal.getsignal(signal.SIGINT)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt, match=f"interrupted at step 3; {out}/last.ckpt holds the last saved step"):
        run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=5, checkpoint_every=100, val_every=100),
                                      progress=False))
    assert signal.getsignal(signal.SIGINT) is handler  # Lightning's SIG_IGN is not left behind
    assert torch.load(out / "last.ckpt", weights_only=False)["global_step"] == 3
    assert read_model_file(out / "model.ckpt").meta["step"] == 3
    monkeypatch.setattr(DiffusionModule, "training_step", step)
    result = run_train(VideoTrainRunConfig(out=out, config=_config(store, max_steps=5, checkpoint_every=100,
                                                                   val_every=100), resume=True, progress=False))
    assert result["steps"] == 5
    steps = [int(r.split(",")[0]) for r in (out / "curves.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4, 5]


def test_a_plain_store_is_trained_on_with_a_note_of_what_was_assumed(store, tmp_path):
    """A store written by another tool (the documented layout, no sciffusion attrs) trains, and the user is
    told before training what was assumed about it (as predict tells); our own stores give no note."""
    import zarr

    from sciffusion.domains.video.zarr_store import open_video_store

    video = open_video_store(store).video[...]
    plain = tmp_path / "plain.zarr"
    group = zarr.open_group(str(plain), mode="w")
    group.create_array("video", shape=video.shape, chunks=(1,) + video.shape[1:], dtype=video.dtype)[...] = video
    notes: list[str] = []
    result = run_train(VideoTrainRunConfig(out=tmp_path / "run", config=_config(plain, max_steps=1), progress=False),
                       note=notes.append)
    assert result["steps"] == 1
    assert notes == [f"{plain}: no sciffusion attrs; read as a dataset store (video [N, T, H, W, C]) at 10 fps "
                     "(assumed; an 'fps' attr sets it)"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["stores"]["train"]["assumed"] == notes[0]
    ours: list[str] = []
    run_train(VideoTrainRunConfig(out=tmp_path / "run2", config=_config(store, max_steps=1), progress=False),
              note=ours.append)
    assert ours == []


def test_lineage_adds_the_starting_files_steps():
    from sciffusion.pipelines.video.train import lineage

    assert lineage(5, None) == {}  # from scratch: nothing to add
    new = lineage(5, {"path": "/old/machine/ft/model.ckpt", "sha256": "ab", "step": 7, "total_steps": 30})
    assert new == {"init_from": {"file": "model.ckpt", "sha256": "ab", "step": 7, "total_steps": 30}, "total_steps": 35}
    old = lineage(5, {"path": "x.pt", "sha256": "ab", "step": 7})  # a config.json written before total_steps
    assert old["total_steps"] == 12
    assert lineage(5, {"path": "x.pt", "sha256": "ab", "step": None, "total_steps": None})["total_steps"] is None
