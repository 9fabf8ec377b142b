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
