"""The noisy event classifier reads the noisy block, the visible past and σ, nothing else."""
import torch

from sciffusion.domains.video.networks.condition import VideoCondition
from sciffusion.domains.video.networks.event_classifier import EventClassifierNetConfig, NoisyEventClassifier


def _net(**kw):
    torch.manual_seed(0)
    return NoisyEventClassifier(EventClassifierNetConfig(channels=3, past_frames=2, frames=3, width=8, embed_dim=16, **kw))


def test_network_shapes_and_what_it_reads():
    net = _net().double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 3, 16, 16, generator=g, dtype=torch.float64)
    past = torch.randn(2, 3, 2, 16, 16, generator=g, dtype=torch.float64)
    c = torch.tensor([0.1, -0.5], dtype=torch.float64)
    shown = VideoCondition(past=past, past_mask=torch.ones(2))
    masked = VideoCondition(past=past, past_mask=torch.zeros(2))
    assert net(x, c, shown).shape == (2, 4)
    # a masked past has no influence (the same as no condition), a visible one has
    assert torch.allclose(net(x, c, masked), net(x, c, None))
    assert not torch.allclose(net(x, c, shown), net(x, c, None))
    # the noise level is read
    assert not torch.allclose(net(x, c, shown), net(x, c + 1, shown))
    # the event label of the condition is ignored
    labelled = VideoCondition(past=past, past_mask=torch.ones(2), event=torch.tensor([1, 2]))
    assert torch.equal(net(x, c, labelled), net(x, c, shown))

    # any number of frames
    assert net(torch.randn(1, 3, 5, 16, 16, dtype=torch.float64), c[:1], None).shape == (1, 4)
