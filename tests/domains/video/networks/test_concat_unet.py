import pytest
import torch

from sciffusion.common.networks import UNet2DConfig
from sciffusion.domains.video.networks import ConcatUNet, ConcatUNetConfig, VideoCondition

UNET = UNet2DConfig(base_channels=8, channel_mults=(1, 2), attention=(False, True), groups=4, embed_dim=16)


def _net(**kw):
    torch.manual_seed(0)
    net = ConcatUNet(ConcatUNetConfig(**{"past_frames": 2, "frames": 3, "future_frames": 1, "unet": UNET, **kw}))
    torch.nn.init.normal_(net.unet.head[-1].weight, std=0.1)
    return net.double().eval()


def test_shape_and_masked_block_has_zero_gradient():
    net = _net()
    x = torch.randn(2, 1, 3, 8, 8, dtype=torch.float64)
    past = torch.randn(2, 1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    cond = VideoCondition(past=past, future=torch.randn(2, 1, 1, 8, 8, dtype=torch.float64),
                          past_mask=torch.tensor([0.0, 1.0]))
    out = net(x, torch.zeros(2, dtype=torch.float64), cond)
    assert out.shape == x.shape
    out.sum().backward()
    assert torch.count_nonzero(past.grad[0]) == 0 and torch.count_nonzero(past.grad[1]) > 0


def test_frames_are_channels_so_counts_are_fixed():
    net = _net()
    with pytest.raises(ValueError, match="x: expected"):
        net(torch.randn(2, 1, 4, 8, 8, dtype=torch.float64), torch.zeros(2))
    with pytest.raises(ValueError, match="cond.past"):
        net(torch.randn(2, 1, 3, 8, 8, dtype=torch.float64), torch.zeros(2),
            VideoCondition(past=torch.zeros(2, 1, 3, 8, 8, dtype=torch.float64)))
    assert net.unet.config.in_channels == 1 * (2 + 3 + 1) + 2 and net.unet.config.head_channels == 3


def test_events_condition_the_baseline():
    net = _net(num_events=4)
    x, c = torch.randn(1, 1, 3, 8, 8, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    assert not torch.allclose(net(x, c, VideoCondition(event=torch.tensor([0]))),
                              net(x, c, VideoCondition(event=torch.tensor([3]))))
    assert torch.allclose(net(x, c, VideoCondition(event=torch.tensor([-1]))), net(x, c, None))
