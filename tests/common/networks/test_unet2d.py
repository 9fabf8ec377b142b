import pytest
import torch

from sciffusion.common.networks import UNet2D, UNet2DConfig, count_parameters

SMALL = UNet2DConfig(base_channels=8, channel_mults=(1, 2, 2), num_res_blocks=1, attention=(False, False, True),
                     groups=4, embed_dim=16)


def _net(cfg=SMALL):
    torch.manual_seed(0)
    net = UNet2D(cfg)
    torch.nn.init.normal_(net.head[-1].weight, std=0.1)  # the zero-initialised head would hide everything
    return net


def test_shape_and_noise_conditioning():
    net = _net()
    x = torch.randn(3, 1, 28, 28)
    out = net(x, torch.zeros(3))
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, torch.ones(3)))  # c_noise changes the output


def test_batch_elements_are_independent():
    net = _net()
    x = torch.randn(4, 1, 28, 28)
    c = torch.randn(4)
    whole = net(x, c)
    single = torch.cat([net(x[i:i + 1], c[i:i + 1]) for i in range(4)])
    assert torch.allclose(whole, single, atol=1e-5)


def test_class_labels_condition_the_output():
    cfg = UNet2DConfig(base_channels=8, channel_mults=(1, 2), attention=(False, False), groups=4, embed_dim=16,
                       num_classes=10)
    net = _net(cfg)
    x, c = torch.randn(2, 1, 28, 28), torch.zeros(2)
    assert not torch.allclose(net(x, c, torch.tensor([0, 0])), net(x, c, torch.tensor([3, 3])))


def test_default_size_and_zero_head():
    net = UNet2D()
    assert 1_000_000 < count_parameters(net) < 2_000_000
    assert torch.count_nonzero(net(torch.randn(1, 1, 28, 28), torch.zeros(1))) == 0


@pytest.mark.parametrize("kw, match", [({"attention": (True,)}, "attention"), ({"groups": 3}, "groups"),
                                       ({"embed_dim": 7}, "embed_dim"), ({"channel_mults": ()}, "channel_mults")])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        UNet2DConfig(**kw)


def test_wrong_input_shape():
    with pytest.raises(ValueError, match="x: expected"):
        _net()(torch.randn(2, 3, 28, 28), torch.zeros(2))


def test_out_channels_sets_the_head_width():
    cfg = UNet2DConfig(in_channels=3, out_channels=2, base_channels=8, channel_mults=(1, 2),
                       attention=(False, False), groups=4, embed_dim=16)
    out = _net(cfg)(torch.randn(2, 3, 16, 16), torch.zeros(2))
    assert out.shape == (2, 2, 16, 16)
    assert UNet2DConfig().head_channels == 1
    with pytest.raises(ValueError, match="out_channels"):
        UNet2DConfig(out_channels=0)


def test_negative_label_is_the_null_condition():
    cfg = UNet2DConfig(base_channels=8, channel_mults=(1, 2), attention=(False, False), groups=4, embed_dim=16,
                       num_classes=3)
    net = _net(cfg)
    x, c = torch.randn(2, 1, 28, 28), torch.zeros(2)
    assert torch.allclose(net(x, c, torch.tensor([-1, -1])), net(x, c, None), atol=1e-6)
    assert not torch.allclose(net(x, c, torch.tensor([-1, -1])), net(x, c, torch.tensor([0, 0])))
