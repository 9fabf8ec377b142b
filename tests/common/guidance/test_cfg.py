"""Classifier-free guidance: scale 1 is the conditional model exactly; closed form inside the σ
interval; conditional outside; composes with registered samplers."""
import pytest
import torch

from sciffusion.common.grids import karras_grid
from sciffusion.common.guidance import cfg
from sciffusion.common.samplers import SAMPLERS

F64 = torch.float64


def gauss(mean, std):
    """Exact denoiser of N(mean, std² I): mean + (x − mean) std²/(std² + σ²)."""
    def d(x, sigma):
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
        return mean + (x - mean) * std**2 / (std**2 + s**2)
    return d


D_C, D_U = gauss(1.5, 0.5), gauss(0.0, 1.0)


@pytest.mark.parametrize("name", ["euler", "heun", "dpmpp_2m", "euler_maruyama"])
def test_scale_one_equals_conditional_model_exactly(name):
    sig = karras_grid(8, 0.01, 10.0, dtype=F64)
    x = sig[0] * torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    a = SAMPLERS[name](cfg(D_C, D_U, 1.0), sig, x, generator=torch.Generator().manual_seed(1)).x
    b = SAMPLERS[name](D_C, sig, x, generator=torch.Generator().manual_seed(1)).x
    assert torch.equal(a, b)


def test_closed_form_inside_and_conditional_outside_interval():
    x = torch.randn(6, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    sigma = torch.tensor([0.05, 0.5, 1.0, 2.0, 3.0, 9.0], dtype=F64)
    calls = []
    d_u = lambda x, s: (calls.append(len(x)), D_U(x, s))[1]
    out = cfg(D_C, d_u, 3.0, sigma_interval=(0.5, 3.0))(x, sigma)
    inside = ((sigma >= 0.5) & (sigma <= 3.0))[:, None]
    expected = torch.where(inside, D_U(x, sigma) + 3.0 * (D_C(x, sigma) - D_U(x, sigma)), D_C(x, sigma))
    assert torch.allclose(out, expected, atol=1e-14)
    broken = D_C(x, sigma) + 3.0 * (D_U(x, sigma) - D_C(x, sigma))  # swapped roles must not pass
    assert not torch.allclose(out[inside[:, 0]], broken[inside[:, 0]], atol=1e-3)
    calls.clear()
    cfg(D_C, d_u, 3.0, sigma_interval=(0.5, 3.0))(x, torch.full((6,), 5.0, dtype=F64))
    assert calls == []  # unconditional model not evaluated outside the interval


def test_guided_gaussian_mean_is_extrapolated():
    """For Gaussians with equal std, CFG at scale w gives mean w·m_c + (1 − w)·m_u exactly at σ → 0."""
    d_c, d_u = gauss(1.0, 0.5), gauss(-1.0, 0.5)
    sig = karras_grid(30, 1e-3, 20.0, dtype=F64)
    x = 3.0 + sig[0] * torch.randn(4000, 1, dtype=F64, generator=torch.Generator().manual_seed(3))  # the guided prior
    out = SAMPLERS["heun"](cfg(d_c, d_u, 2.0), sig, x).x
    assert abs(float(out.mean()) - 3.0) < 4 * 0.5 / 4000**0.5 and abs(float(out.std()) / 0.5 - 1) < 0.05


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma_interval"):
        cfg(D_C, D_U, 2.0, sigma_interval=(3.0, 1.0))
    with pytest.raises(ValueError, match="scale"):
        cfg(D_C, D_U, float("nan"))
