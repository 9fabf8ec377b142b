"""The event guide: its network reads the past and the noisy block, its file round-trips with one-line errors,
and it steers the block denoiser (classifier guidance) only when asked."""
import pytest
import torch

from sciffusion.domains.video.event_guide import guide_file, read_guide_file, take_event
from sciffusion.domains.video.networks.condition import VideoCondition
from sciffusion.domains.video.networks.event_classifier import EventClassifierNetConfig, NoisyEventClassifier


def _net(**kw):
    torch.manual_seed(0)
    return NoisyEventClassifier(EventClassifierNetConfig(channels=3, past_frames=2, frames=3, width=8, embed_dim=16, **kw))


def test_take_event_moves_the_label_out_of_the_condition():
    cond = VideoCondition(past=torch.zeros(2, 3, 2, 4, 4), event=torch.tensor([2, 0]))
    rest, labels = take_event(cond)
    assert rest.event is None and labels.tolist() == [2, 0] and rest.past is cond.past
    with pytest.raises(ValueError, match="event labels"):
        take_event(VideoCondition())


def test_guide_file_round_trip_and_errors(tmp_path):
    from sciffusion.common.training.config import TrainConfig

    net = _net()
    path = tmp_path / "guide.pt"
    torch.save(guide_file(net, net.config, TrainConfig().to_dict(), {"steps": 7}), path)
    loaded = read_guide_file(path)
    assert loaded.meta["steps"] == 7 and loaded.config == net.config
    x, c = torch.randn(1, 3, 3, 16, 16), torch.zeros(1)
    assert torch.allclose(loaded.net(x, c, None), net(x, c, None))
    torch.save({"kind": "sciffusion-video-model", "format_version": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a video event guide file"):
        read_guide_file(tmp_path / "other.pt")
    bad = guide_file(net, net.config, TrainConfig().to_dict(), {})
    bad["ema"].pop(next(iter(bad["ema"])))
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="weights do not fit"):
        read_guide_file(tmp_path / "bad.pt")


def test_guide_steers_the_block_denoiser_towards_its_event(tmp_path):
    """With scale > 0 the guided D moves so that the guide's log p(event | x) rises along D − D_plain (the
    gradient direction, checked by a small step), with scale 0 or no event D is the plain one, and a guide for
    other block shapes is refused."""
    from sciffusion.common.training.config import TrainConfig
    from sciffusion.domains.video.model import read_model_file
    from sciffusion.domains.video.sampling import SamplingConfig, block_denoiser
    from sciffusion.domains.video.testing import write_tiny_model

    model = read_model_file(write_tiny_model(tmp_path / "m.ckpt", channels=3, events=True))
    net = _net()
    torch.save(guide_file(net, net.config, TrainConfig().to_dict(), {}), tmp_path / "g.pt")
    guide = read_guide_file(tmp_path / "g.pt")
    guide.check_fits(model.config, "g.pt")
    g = torch.Generator().manual_seed(2)
    x, sigma = torch.randn(2, 3, 3, 16, 16, generator=g), torch.tensor([1.0, 1.0])
    cond = VideoCondition(past=torch.randn(2, 3, 2, 16, 16, generator=g), past_mask=torch.ones(2),
                          event=torch.tensor([2, 2]))
    plain = block_denoiser(model, cond, SamplingConfig())(x, sigma)
    assert torch.equal(block_denoiser(model, cond, SamplingConfig(), guide)(x, sigma), plain)
    steered = block_denoiser(model, cond, SamplingConfig(guide_scale=3.0), guide)(x, sigma)
    step = steered - plain
    assert step.abs().max() > 0
    log_prob = guide.log_prob(cond, cond.event)
    with torch.no_grad():
        assert (log_prob(x + 1e-3 * step / step.norm(), sigma) > log_prob(x, sigma)).all()
    # outside the guide interval: unchanged
    outside = block_denoiser(model, cond, SamplingConfig(guide_scale=3.0, guide_interval=(2.0, 5.0)), guide)(x, sigma)
    assert torch.equal(outside, plain)
    bad = read_guide_file(tmp_path / "g.pt")
    object.__setattr__(bad, "config", EventClassifierNetConfig(channels=3, past_frames=1, frames=3))
    with pytest.raises(ValueError, match="g.pt: the event guide reads"):
        bad.check_fits(model.config, "g.pt")
    with pytest.raises(ValueError, match="--guide-scale"):
        SamplingConfig(guide_scale=-1.0)
