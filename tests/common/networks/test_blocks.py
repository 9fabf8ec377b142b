import torch

from sciffusion.common.networks import FourierEmbedding, LabelEmbedding, ResBlock, SelfAttention
from sciffusion.common.networks import unet2d


def test_unet2d_uses_the_shared_blocks():
    # one definition: the U-Net's blocks are the shared ones, not copies
    assert unet2d.ResBlock is ResBlock and unet2d.SelfAttention is SelfAttention
    assert unet2d.FourierEmbedding is FourierEmbedding


def test_fourier_embedding_is_fixed_and_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    a, b = FourierEmbedding(8, 16.0), FourierEmbedding(8, 16.0)
    assert torch.equal(torch.random.get_rng_state(), before)
    c = torch.tensor([0.0, 0.3])
    out = a(c)
    assert out.shape == (2, 8) and torch.equal(out, b(c))
    assert torch.allclose(out[0], torch.tensor([1.0] * 4 + [0.0] * 4))  # cos 0 = 1, sin 0 = 0


def test_label_embedding_zero_for_negative_labels():
    emb = LabelEmbedding(3, 4)
    out = emb(torch.tensor([2, -1, 0]))
    assert torch.equal(out[1], torch.zeros(4))
    assert torch.equal(out[0], emb.weight[2]) and torch.equal(out[2], emb.weight[0])


def test_resblock_and_attention_shapes_and_embedding_effect():
    torch.manual_seed(0)
    block, attn = ResBlock(4, 8, 6, groups=2, dropout=0.0), SelfAttention(8, groups=2)
    x = torch.randn(3, 4, 5, 5)
    e1, e2 = torch.zeros(3, 6), torch.ones(3, 6)
    h = block(x, e1)
    assert h.shape == (3, 8, 5, 5)
    assert not torch.allclose(h, block(x, e2))
    assert attn(h).shape == h.shape
