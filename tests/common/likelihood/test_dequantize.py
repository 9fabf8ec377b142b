import math

import pytest
import torch

from sciffusion.common.likelihood import bits_per_dim, dequantize_uint8, scale_offset_nats


def test_dequantize_range_and_noise():
    k = torch.tensor([0, 255, 128], dtype=torch.uint8).repeat(1000)
    x = dequantize_uint8(k, torch.Generator().manual_seed(0))
    assert x.min() >= -1 and x.max() < 256 / 127.5 - 1
    u = (x[k == 0] + 1) * 127.5  # the uniform noise added to k = 0
    assert float(u.mean()) == pytest.approx(0.5, abs=0.05) and float(u.std()) == pytest.approx(12**-0.5, abs=0.03)


def test_bpd_offset():
    # a uniform density on [-1, 1 + 1/127.5]^D (width 256/127.5) is exactly 8 bits/dim
    d = 10
    nll = d * math.log(256 / 127.5)
    assert float(bits_per_dim(nll, d)) == pytest.approx(8.0)
    assert scale_offset_nats(d) == pytest.approx(d * math.log(127.5))
    with pytest.raises(ValueError, match="dim"):
        bits_per_dim(1.0, 0)
