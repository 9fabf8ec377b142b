"""A video model read as a context denoiser: the same network and weights, the past block as context."""
import dataclasses

import pytest
import torch

from sciffusion.domains.video.context_net import VideoContextNet, video_context_net
from sciffusion.domains.video.model import VideoModelConfig
from sciffusion.domains.video.networks.condition import VideoCondition

TINY = VideoModelConfig(size=8, past_frames=2, frames=3, base_channels=8, channel_mults=(1, 2),
                        spatial_attention=(False, False), temporal_attention=(False, True), embed_dim=32, groups=4)


@pytest.mark.parametrize("model", [TINY, dataclasses.replace(TINY, events=True, future_frames=1),
                                   dataclasses.replace(TINY, arch="concat", temporal_attention=(False, False))])
def test_context_net_is_the_video_network_conditioned_on_the_past(model):
    torch.manual_seed(0)
    net = video_context_net(model.to_dict()).eval()
    assert (net.context_frames, net.target_frames) == (2, 3)
    for p in net.parameters():  # zero-initialised heads would make every condition look the same
        torch.nn.init.normal_(p, std=0.2)
    x, c_noise, context = torch.randn(2, 1, 3, 8, 8), torch.randn(2), torch.randn(2, 1, 2, 8, 8)
    b = 2
    future = torch.zeros(b, 1, model.future_frames, 8, 8) if model.future_frames else None
    condition = VideoCondition(past=context, future=future, past_mask=torch.ones(b),
                               future_mask=torch.zeros(b) if model.future_frames else None,
                               event=torch.full((b,), -1) if model.events else None)
    with torch.no_grad():
        out = net(x, c_noise, context)
        assert out.shape == x.shape
        assert torch.allclose(out, net.net(x, c_noise, condition))
        # negative control: the context matters
        assert not torch.allclose(out, net(x, c_noise, context + 1.0), atol=1e-4)
    with pytest.raises(ValueError, match="context: need"):
        net(x, c_noise, torch.randn(2, 1, 3, 8, 8))


def test_a_model_without_past_frames_cannot_be_a_context_denoiser():
    with pytest.raises(ValueError, match="no past frames"):
        VideoContextNet(dataclasses.replace(TINY, past_frames=0))


@pytest.mark.parametrize("model", [TINY, dataclasses.replace(TINY, events=True, future_frames=1)])
def test_clip_net_is_the_video_network_on_whole_clips_with_per_frame_taps(model):
    """Every frame is the current block (no past, no future, event null); any number of frames; the
    taps see the first level and the bottleneck frame by frame, as [B, D, T, h, w]."""
    from sciffusion.domains.video.context_net import VideoClipNet, video_clip_net

    torch.manual_seed(0)
    net = video_clip_net(model.to_dict()).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    seen = {}
    net.shallow_layer().register_forward_hook(lambda _m, _i, out: seen.__setitem__("shallow", out))
    net.feature_layer().register_forward_hook(lambda _m, _i, out: seen.__setitem__("deep", out))
    event = torch.full((2,), -1) if model.events else None
    for frames in (3, 7):
        x, c_noise = torch.randn(2, 1, frames, 8, 8), torch.randn(2)
        with torch.no_grad():
            out = net(x, c_noise)
            assert out.shape == x.shape
            assert torch.allclose(out, net.net(x, c_noise, VideoCondition(event=event)))
            assert seen["shallow"].shape == (2, 8, frames, 8, 8) and seen["deep"].shape == (2, 16, frames, 4, 4)
            # the taps keep the clips apart and the frames in order: a change in the last frame of clip 1
            # leaves clip 0 as it was, and moves clip 1's last frame more than its first (the first
            # level's temporal convolution reaches one frame on each side; its group norm spans the clip)
            first = seen["shallow"].clone()
            y = x.clone()
            y[1, :, -1] += 1.0
            net(y, c_noise)
            moved = (seen["shallow"][1] - first[1]).abs().mean((0, 2, 3))  # [T]
            assert torch.allclose(seen["shallow"][0], first[0]) and moved[-1] > 5 * moved[0]
            assert not torch.allclose(seen["shallow"][1, :, -1], first[1, :, -1])
    assert set(net.state_dict()) - {"shallow_tap", "deep_tap"} == set(video_context_net(model.to_dict()).state_dict())
    with pytest.raises(ValueError, match="fixed frame counts"):
        VideoClipNet(dataclasses.replace(TINY, arch="concat", temporal_attention=(False, False)))
