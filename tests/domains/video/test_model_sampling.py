import pytest
import torch

from sciffusion.common.training.config import TrainConfig
from sciffusion.domains.video.model import VideoModelConfig, model_file, read_model_file
from sciffusion.domains.video.sampling import SamplingConfig, block_denoiser, rollout
from sciffusion.domains.video.networks import VideoCondition

TINY = dict(size=8, base_channels=8, channel_mults=(1, 2), spatial_attention=(False, False),
            temporal_attention=(False, True), heads=2, groups=4, embed_dim=16, past_frames=2, frames=3)


def _saved(tmp_path, **kw):
    cfg = VideoModelConfig(**{**TINY, **kw})
    torch.manual_seed(0)
    net = cfg.network()
    head = net.head[-1] if cfg.arch == "spacetime" else net.unet.head[-1]
    torch.nn.init.normal_(head.weight, std=0.1)
    path = tmp_path / "model.ckpt"
    torch.save(model_file(net, cfg, TrainConfig().to_dict(), {"step": 3}), path)
    return net, path


@pytest.mark.parametrize("arch", ["spacetime", "concat"])
def test_model_file_round_trip(tmp_path, arch):
    net, path = _saved(tmp_path, arch=arch, events=True)
    loaded = read_model_file(path)
    assert loaded.config.arch == arch and loaded.meta["step"] == 3
    x = torch.randn(1, 1, 3, 8, 8)
    cond = VideoCondition(past=torch.randn(1, 1, 2, 8, 8), event=torch.tensor([2]))
    assert torch.allclose(loaded.net(x, torch.zeros(1), cond), net.eval()(x, torch.zeros(1), cond))


def test_model_file_errors(tmp_path):
    torch.save({"kind": "other"}, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="x.ckpt: not a video model file"):
        read_model_file(tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="arch"):
        VideoModelConfig(arch="transformer")
    with pytest.raises(ValueError, match="size"):
        VideoModelConfig(size=30, channel_mults=(1, 2, 2))
    cfg = VideoModelConfig(**TINY)
    assert VideoModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("arch", ["spacetime", "concat"])
def test_rollout_past_the_block_length_is_seeded(tmp_path, arch):
    _, path = _saved(tmp_path, arch=arch)
    model = read_model_file(path)
    context = torch.rand(2, 1, 4, 8, 8) * 2 - 1
    sampling = SamplingConfig(sampler="euler", steps=3)
    done = []
    out = rollout(model, context, 7, sampling, torch.Generator().manual_seed(0), progress=done.append)
    assert out.shape == (2, 1, 7, 8, 8) and out.abs().max() <= 1
    assert done == [3, 3, 1]  # three blocks of T = 3
    again = rollout(model, context, 7, sampling, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    other_context = rollout(model, -context, 7, sampling, torch.Generator().manual_seed(0))
    assert not torch.allclose(out, other_context)  # blocks are conditioned on the known frames
    with pytest.raises(ValueError, match="--context"):
        rollout(model, context[:, :, :1], 3, sampling)
    with pytest.raises(ValueError, match="--event"):
        rollout(model, context, 3, sampling, event=torch.tensor([1, 1]))


def test_generation_from_no_context_and_guidance(tmp_path):
    _, path = _saved(tmp_path, events=True)
    model = read_model_file(path)
    empty = torch.zeros(2, 1, 0, 8, 8)
    event = torch.tensor([1, 1])
    out = rollout(model, empty, 4, SamplingConfig(sampler="euler", steps=2, guidance=2.0),
                  torch.Generator().manual_seed(1), event=event)
    assert out.shape == (2, 1, 4, 8, 8)
    cond = VideoCondition(past=torch.zeros(2, 1, 2, 8, 8), past_mask=torch.zeros(2), event=event)
    x, sigma = torch.randn(2, 1, 3, 8, 8), torch.full((2,), 0.7)
    plain = block_denoiser(model, cond, SamplingConfig(guidance=1.0))(x, sigma)
    guided = block_denoiser(model, cond, SamplingConfig(guidance=3.0))(x, sigma)
    uncond = block_denoiser(model, VideoCondition(past=cond.past, past_mask=cond.past_mask,
                                                  event=torch.tensor([-1, -1])), SamplingConfig())(x, sigma)
    assert torch.allclose(guided, uncond + 3.0 * (plain - uncond), atol=1e-5)  # CFG: D_u + w (D_c - D_u)
    # a negative prompt: the reference is the normal label's denoiser, not the null label's
    normal = block_denoiser(model, VideoCondition(past=cond.past, past_mask=cond.past_mask,
                                                  event=torch.tensor([0, 0])), SamplingConfig())(x, sigma)
    away = block_denoiser(model, cond, SamplingConfig(guidance=3.0, negative_event=0))(x, sigma)
    assert torch.allclose(away, normal + 3.0 * (plain - normal), atol=1e-5)
    assert not torch.allclose(normal, uncond, atol=1e-4)  # the two references differ, so the test can fail
    with pytest.raises(ValueError, match="--sampler"):
        SamplingConfig(sampler="nope")
    with pytest.raises(ValueError, match="--negative-event"):
        SamplingConfig(negative_event=-1)



def test_an_event_schedule_conditions_each_block_on_its_own_event(tmp_path, monkeypatch):
    """--event-frame's schedule: normal before the block holding the onset frame, the event from it on; a
    [B, blocks] event conditions block b on column b, and gives the same frames as one event per call."""
    import sciffusion.domains.video.sampling as sampling_module
    from sciffusion.domains.video.events import default_onset_frame, onset_schedule

    assert onset_schedule(1, 4, 10, 4) == [0, 1, 1] and onset_schedule(2, 0, 10, 4) == [2, 2, 2]
    assert onset_schedule(3, 9, 10, 4) == [0, 0, 3] and onset_schedule(1, 2, 3, 3) == [1]
    assert default_onset_frame(1, 4, 10) == 4 and default_onset_frame(1, 4, 4) is None  # collisions: 2nd block
    assert all(default_onset_frame(e, 4, 10) is None for e in (0, 2, 3))
    for bad in (-1, 10):
        with pytest.raises(ValueError, match="--event-frame: must be a generated frame, 0 to 9"):
            onset_schedule(1, bad, 10, 4)
    from sciffusion.domains.video.events import asked_per_frame, block_events

    assert block_events(2, None, 10, 4) == [2, 2, 2] and block_events(1, 4, 10, 4) == [0, 1, 1]
    assert asked_per_frame([0, 1, 1], 4, 10, 2).tolist() == [-1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="one event per block, 3 blocks of 4 in 10 frames, got 2"):
        asked_per_frame([0, 1], 4, 10)
    _, path = _saved(tmp_path, events=True)
    model = read_model_file(path)
    seen, real = [], sampling_module.sample_block
    monkeypatch.setattr(sampling_module, "sample_block",
                        lambda m, cond, *a, **k: seen.append(cond.event.tolist()) or real(m, cond, *a, **k))
    sampling = SamplingConfig(sampler="euler", steps=2, guidance=2.0)
    schedule = torch.tensor([[0, 2, 0], [0, 2, 0]])
    out = rollout(model, torch.zeros(2, 1, 0, 8, 8), 7, sampling, torch.Generator().manual_seed(3), event=schedule)
    assert seen == [[0, 0], [2, 2], [0, 0]]
    with pytest.raises(ValueError, match=r"a schedule of shape \[clips, blocks\] = \[2, 3\], got \[2, 2\]"):
        rollout(model, torch.zeros(2, 1, 0, 8, 8), 7, sampling, event=schedule[:, :2])
    # the same draws block by block with one event per call: the schedule changes only the labels
    known, generator = torch.zeros(2, 1, 0, 8, 8), torch.Generator().manual_seed(3)
    for label, take in ((0, 3), (2, 3), (0, 1)):
        known = torch.cat([known, rollout(model, known, take, sampling, generator,
                                          event=torch.full((2,), label))], dim=2)
    assert torch.allclose(out, known)
    everywhere = rollout(model, torch.zeros(2, 1, 0, 8, 8), 7, sampling, torch.Generator().manual_seed(3),
                         event=torch.full((2,), 2))
    assert not torch.allclose(out, everywhere)  # the labels reach the network, so the test can fail


def test_bundled_model_fallback(tmp_path, monkeypatch):
    from sciffusion.domains.video import model as model_module

    monkeypatch.setitem(model_module.BUNDLED_MODELS, "smmnist", tmp_path / "absent.pt")
    with pytest.raises(FileNotFoundError, match="--model: no bundled smmnist model"):
        model_module.resolve_model_path(None)
    _, path = _saved(tmp_path)
    monkeypatch.setitem(model_module.BUNDLED_MODELS, "smmnist", path)
    assert model_module.resolve_model_path(None) == path
    assert model_module.resolve_model_path(tmp_path / "mine.pt") == tmp_path / "mine.pt"


def test_warm_start_begins_at_the_last_known_frame(tmp_path):
    """--init-sigma: a block continuing known frames starts from the last known frame noised to
    init_sigma; with a tiny init_sigma the network barely moves it (c_skip ≈ 1), so the block stays
    at that frame, while a cold start from σ_max does not (negative control)."""
    _, path = _saved(tmp_path)
    model = read_model_file(path)
    context = torch.rand(2, 1, 4, 8, 8) * 2 - 1
    warm = rollout(model, context, 3, SamplingConfig(sampler="euler", steps=2, init_sigma=0.004),
                   torch.Generator().manual_seed(0))
    cold = rollout(model, context, 3, SamplingConfig(sampler="euler", steps=2), torch.Generator().manual_seed(0))
    last = context[:, :, -1:].expand_as(warm)
    assert (warm - last).abs().max() < 0.05
    assert (cold - last).abs().mean() > 0.2
    with pytest.raises(ValueError, match="--init-sigma: must be in"):
        SamplingConfig(init_sigma=100.0)


def test_shipped_concat_model_is_the_measured_one():
    """domains/video/data/video_smmnist_concat.pt (docs/video.md, eighth round): the concat baseline of
    cpu_smmnist_concat, 2 past -> 4 frames of 64 px grey, trained on the train split only."""
    from sciffusion.domains.video.model import DATA_DIR, read_model_file

    loaded = read_model_file(DATA_DIR / "video_smmnist_concat.pt")
    assert loaded.config.arch == "concat" and loaded.config.size == 64 and loaded.config.channels == 1
    assert (loaded.config.past_frames, loaded.config.frames) == (2, 4)
    assert sum(p.numel() for p in loaded.net.parameters()) == 1_463_524
    assert "smmnist_train" in str(loaded.meta.get("data", {}).get("train", ""))
    from sciffusion.domains.video.model import resolve_model_path

    assert resolve_model_path(None) == DATA_DIR / "video_smmnist_concat.pt"  # the predict/generate default


def test_shipped_driving_model_is_the_measured_one():
    """domains/video/data/video_driving.pt (docs/video.md, eleventh round): cpu_driving with events, the
    session-18 file fine-tuned for 2,181 steps with the cpu_driving_moving data settings (loss weight 1 + 3
    on changing pixels, past masked a quarter of the time) on event-balanced windows of driving_train600.zarr
    (its held-out benchmarks use other episodes)."""
    from pathlib import Path

    from sciffusion.domains.video.model import DATA_DIR, read_model_file, resolve_model_path

    loaded = read_model_file(DATA_DIR / "video_driving.pt")
    assert loaded.config.events and loaded.config.channels == 3 and loaded.config.past_channels == 2
    assert loaded.meta["step"] == 2181 and loaded.meta["data"]["balance_events"] is True
    assert loaded.meta["data"]["change_weight"] == 3.0 and loaded.meta["data"]["p_mask_past"] == 0.25
    assert Path(loaded.meta["data"]["train"]).name == "driving_train600.zarr"
    assert resolve_model_path(None, "driving") == DATA_DIR / "video_driving.pt"


def test_shipped_driving_prediction_model_is_the_measured_one():
    """domains/video/data/video_driving_predict.pt (docs/video.md, fourteenth round): video_driving.pt
    fine-tuned for 4,076 steps (55 minutes, one core) with change_weight 0 on event-balanced windows of
    driving_train600.zarr; same network as the event model, so both load through one config."""
    from pathlib import Path

    from sciffusion.domains.video.model import DATA_DIR, read_model_file, resolve_model_path

    loaded = read_model_file(DATA_DIR / "video_driving_predict.pt")
    event_model = read_model_file(DATA_DIR / "video_driving.pt")
    assert loaded.config == event_model.config and loaded.config.channels == 3
    assert loaded.meta["step"] == 4076 and loaded.meta["data"]["change_weight"] == 0.0
    assert loaded.meta["data"]["balance_events"] is True
    assert Path(loaded.meta["data"]["train"]).name == "driving_train600.zarr"
    differs = [not torch.equal(a, b) for a, b in zip(loaded.net.state_dict().values(),
                                                      event_model.net.state_dict().values())]
    assert any(differs)  # trained further, not a copy
    assert resolve_model_path(None, "driving-predict") == DATA_DIR / "video_driving_predict.pt"
    # what predict uses with it when the user gives no sampling options: the measured settings
    from sciffusion.domains.video.sampling import recommended_prediction

    assert recommended_prediction(loaded.meta, "file") == {"sampler": "dpmpp_2m", "steps": 10, "init_sigma": 0.1}


def test_recommended_prediction_settings_are_checked():
    from sciffusion.domains.video.sampling import recommended_prediction
    from sciffusion.pipelines.video.sampling_run import SamplingRun

    assert recommended_prediction({"step": 3}, "f") == {}
    assert recommended_prediction({"predict": {"steps": 4, "init_sigma": None}}, "f") == {"steps": 4, "init_sigma": None}
    with pytest.raises(ValueError, match=r"^f: must map some of sampler, steps, init_sigma"):
        recommended_prediction({"predict": {"guidance": 3}}, "f")
    with pytest.raises(ValueError, match=r"^f: must map"):
        recommended_prediction({"predict": [1]}, "f")
    with pytest.raises(ValueError, match=r"^f: --init-sigma: must be in"):
        recommended_prediction({"predict": {"init_sigma": -1.0}}, "f")
    # the user's options win; None given means all given (bench, generate)
    rec = {"sampler": "euler", "steps": 4, "init_sigma": 0.1}
    run, taken = SamplingRun(given=frozenset({"steps"})).with_model_defaults(rec)
    assert taken == {"sampler": "euler", "init_sigma": 0.1}
    assert (run.sampling.sampler, run.sampling.steps, run.sampling.init_sigma) == ("euler", 10, 0.1)
    run, taken = SamplingRun().with_model_defaults(rec)
    assert taken == {} and run.sampling.sampler == "dpmpp_2m" and run.sampling.init_sigma is None


class _ZeroNet(torch.nn.Module):
    """F = 0, so the EDM denoiser is D(x_σ) = c_skip(σ) x_σ with c_skip = σ_d² / (σ² + σ_d²)."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def forward(self, x, c_noise, cond):
        return torch.zeros_like(x)


def test_denoising_gain_matches_its_closed_form_and_needs_a_full_window(tmp_path):
    """With D = c_skip x_σ the gain is mean((c_skip - 1) x + c_skip σ ε)² / σ², computed here from the same ε:
    such a denoiser barely denoises and scores about c_skip² ≈ 0.92, far above the bundled models on their own
    kind of clips (0.02-0.09)."""
    from dataclasses import replace

    from sciffusion.common.noise import randn_like
    from sciffusion.domains.video.sampling import denoising_gain

    _, path = _saved(tmp_path, size=32)  # 3 frames of 32² px: the gain is tight around its mean
    model = replace(read_model_file(path), net=_ZeroNet())
    clips = (torch.rand(3, 1, 6, 32, 32, dtype=torch.float64) * 2 - 1)
    sigma, sd = 0.1, model.train.sigma_data
    c_skip = sd ** 2 / (sigma ** 2 + sd ** 2)
    x = clips[:, :, -3:]
    eps = randn_like(x, torch.Generator().manual_seed(4))
    want = (((c_skip - 1) * x + c_skip * sigma * eps) ** 2).flatten(1).mean(1) / sigma ** 2
    got = denoising_gain(model, clips, sigma, torch.Generator().manual_seed(4))
    assert torch.allclose(got.double(), want, rtol=1e-5)
    assert bool((got > 0.9).all())  # a denoiser that barely denoises: about c_skip² ≈ 0.92
    with pytest.raises(ValueError, match="clips of 4 frames, the model needs 2 \\+ 3"):
        denoising_gain(model, clips[:, :, :4])


def test_event_log_likelihoods_condition_each_block_as_the_rollout_does(tmp_path):
    """The model's own event posterior: block 0 is scored with its past masked, block 1 on the frames before
    it; the result is the core's ELBO over the four labels summed over blocks; a model whose event embedding
    is zero cannot tell the events apart (negative control)."""
    from dataclasses import replace

    from sciffusion.common.likelihood.elbo import conditional_log_likelihoods
    from sciffusion.domains.video.sampling import event_log_likelihoods

    _, path = _saved(tmp_path, events=True)
    model = read_model_file(path)
    clips = torch.rand(2, 1, 7, 8, 8) * 2 - 1
    sigmas = torch.tensor([0.1, 0.5, 2.0])
    both = event_log_likelihoods(model, clips, [0, 3], sigmas, generator=torch.Generator().manual_seed(0))
    assert both.shape == (2, 4) and not torch.allclose(both[:, 0], both[:, 2])
    # by hand: block 0 masked past, block 1 past = frames 1, 2; one generator, drawn in that order
    g = torch.Generator().manual_seed(0)
    masked = VideoCondition(past=torch.zeros(2, 1, 2, 8, 8), past_mask=torch.zeros(2))
    seen = VideoCondition(past=clips[:, :, 1:3], past_mask=torch.ones(2))
    expected = 0
    for cond, block in ((masked, clips[:, :, 0:3]), (seen, clips[:, :, 3:6])):
        dens = [block_denoiser(model, replace(cond, event=torch.full((2,), k)), SamplingConfig()) for k in range(4)]
        expected = expected + conditional_log_likelihoods(dens, block, sigmas, generator=g)
    assert torch.allclose(both, expected)
    with pytest.raises(ValueError, match="frames 5 to 7 is not inside clips of 7 frames"):
        event_log_likelihoods(model, clips, [5], sigmas)
    torch.nn.init.zeros_(model.net.event.weight)
    blind = event_log_likelihoods(model, clips, [0, 3], sigmas, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(blind, blind[:, :1].expand(-1, 4))
    (tmp_path / "plain").mkdir()
    _, plain = _saved(tmp_path / "plain", events=False)
    with pytest.raises(ValueError, match="without event labels"):
        event_log_likelihoods(read_model_file(plain), clips, [0], sigmas)
