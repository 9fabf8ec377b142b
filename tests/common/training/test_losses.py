import math

import pytest
import torch
from torch import nn

from sciffusion.common.denoisers import EDMPrecond, gaussian_denoiser
from sciffusion.common.training import Preconditioning, SigmaDistribution, edm_weight


class ExactNet(nn.Module):
    """F such that c_skip x + c_out F(c_in x, c_noise) is the exact denoiser for N(0, s² I) times ``scale``."""

    def __init__(self, pre: Preconditioning, s: float, scale: float = 1.0):
        super().__init__()
        self.pre, self.exact, self.scale = pre, gaussian_denoiser(s), scale

    def forward(self, x_in, c_noise, cond=None):
        sigma = torch.exp(4 * c_noise)
        c_skip, c_out, c_in, _ = (c[:, None] for c in self.pre.coefficients(sigma))
        x = x_in / c_in
        return (self.scale * self.exact(x, sigma) - c_skip * x) / c_out


def _expected_loss(kind: str, s: float, sigma: float, scale: float = 1.0, n: int = 20000) -> float:
    pre = Preconditioning(kind, sigma_data=s)
    g = torch.Generator().manual_seed(0)
    x0 = s * torch.randn(n, 4, generator=g, dtype=torch.float64)
    noise = torch.randn(n, 4, generator=g, dtype=torch.float64)
    sig = torch.full((n,), sigma, dtype=torch.float64)
    return float(pre.loss(ExactNet(pre, s, scale), x0, sig, noise).mean())


@pytest.mark.parametrize("sigma", [0.05, 0.5, 3.0])
@pytest.mark.parametrize("kind, expected", [
    # exact denoiser: loss = posterior variance s²σ²/(s²+σ²) per dim, times the x0 weight 1/c_out²
    ("edm", lambda s, sg: 1.0),                                   # λ(σ) cancels it exactly when σ_d = s
    ("eps", lambda s, sg: s**2 / (s**2 + sg**2)),
    ("v", lambda s, sg: s**2 * (1 + sg**2) / (s**2 + sg**2)),
])
def test_exact_denoiser_reaches_the_irreducible_loss(kind, expected, sigma):
    s = 0.7
    got = _expected_loss(kind, s, sigma)
    assert got == pytest.approx(expected(s, sigma), rel=0.04)
    # the exact denoiser is the minimiser: a 10 % shrunk/expanded one is worse
    assert _expected_loss(kind, s, sigma, scale=0.9) > got
    assert _expected_loss(kind, s, sigma, scale=1.1) > got


def test_edm_loss_denoiser_is_core_edmprecond():
    """One EDM definition: for the same network the loss's D(x, σ) and EDMPrecond's are the same
    numbers, and the loss is λ(σ)‖D − x0‖² with that D."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    wrapped = lambda x_in, c_noise, cond: net(torch.cat([x_in, c_noise[:, None]], 1))
    x0, noise, sigma = torch.randn(6, 3), torch.randn(6, 3), torch.logspace(-2, 1.5, 6)
    x_noisy = x0 + sigma[:, None] * noise
    with torch.no_grad():
        core = EDMPrecond(wrapped, 0.7)(x_noisy, sigma)
        pre = Preconditioning("edm", 0.7)
        assert torch.equal(pre.denoise(wrapped, x_noisy, sigma), core)
        assert torch.equal(pre.denoise(wrapped, x_noisy, 0.3), EDMPrecond(wrapped, 0.7)(x_noisy, 0.3))
        loss = pre.loss(wrapped, x0, sigma, noise)
    assert torch.allclose(loss, edm_weight(sigma, 0.7) * ((core - x0) ** 2).mean(1), rtol=1e-4)


def test_edm_loss_is_lambda_weighted_x0_mse():
    pre = Preconditioning("edm", 0.5)
    net = lambda x_in, c_noise, cond: torch.tanh(x_in) + c_noise[:, None]
    x0, noise = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    sigma = torch.exp(torch.randn(6, dtype=torch.float64))
    d = pre.denoise(net, x0 + sigma[:, None] * noise, sigma)
    manual = edm_weight(sigma, 0.5) * ((d - x0) ** 2).mean(1)
    assert torch.allclose(pre.loss(net, x0, sigma, noise), manual)


def test_lognormal_sigma_statistics_and_seeding():
    dist = SigmaDistribution()
    s = dist.sample(200000, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(torch.log(s).mean()) == pytest.approx(-1.2, abs=0.01)
    assert float(torch.log(s).std()) == pytest.approx(1.2, abs=0.01)
    assert torch.equal(dist.sample(5, torch.Generator().manual_seed(3)), dist.sample(5, torch.Generator().manual_seed(3)))
    lu = SigmaDistribution(kind="loguniform", sigma_min=0.01, sigma_max=10.0).sample(10000, torch.Generator().manual_seed(0))
    assert lu.min() >= 0.01 and lu.max() <= 10.0


@pytest.mark.parametrize("kw, match", [({"kind": "x"}, "loss kind"), ({"sigma_data": 0.0}, "sigma_data")])
def test_preconditioning_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        Preconditioning(**kw)


class _FirstHalfOnly(nn.Module):
    """F that is exact on the first half of the features and wrong (+5) on the second."""

    def forward(self, x_in, c_noise, cond=None):
        out = torch.zeros_like(x_in)
        out[:, x_in.shape[1] // 2:] = 5.0
        return out


def test_weighted_loss_is_the_weighted_mean_and_ones_give_the_plain_loss():
    pre = Preconditioning("edm", sigma_data=0.5)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 6, generator=g), torch.randn(3, 6, generator=g)
    sigma = torch.tensor([0.1, 1.0, 10.0])
    net = nn.Linear(6, 6)
    wrapped = lambda x, c, cond=None: net(x)  # noqa: E731
    plain = pre.loss(wrapped, x0, sigma, noise)
    assert torch.allclose(pre.loss(wrapped, x0, sigma, noise, weight=torch.ones(3, 1)), plain)
    assert torch.allclose(pre.loss(wrapped, x0, sigma, noise, weight=torch.full((3, 6), 7.0)), plain)  # scale-free
    # by hand: Σ w e² / Σ w
    c_skip, c_out, c_in, _ = pre.coefficients(sigma)
    xn = x0 + sigma[:, None] * noise
    err = (net(c_in[:, None] * xn) - (x0 - c_skip[:, None] * xn) / c_out[:, None]) ** 2
    w = torch.rand(3, 6, generator=g)
    assert torch.allclose(pre.loss(wrapped, x0, sigma, noise, weight=w), (w * err).sum(1) / w.sum(1), atol=1e-6)


def test_weighted_loss_ignores_zero_weight_elements_and_refuses_bad_weights():
    pre = Preconditioning("eps")
    x0, noise, sigma = torch.zeros(2, 4), torch.zeros(2, 4), torch.ones(2)  # target F* = noise = 0
    w = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(2, 4)
    assert torch.allclose(pre.loss(_FirstHalfOnly(), x0, sigma, noise, weight=w), torch.zeros(2))
    assert torch.allclose(pre.loss(_FirstHalfOnly(), x0, sigma, noise), torch.full((2,), 12.5))  # control
    with pytest.raises(ValueError, match="loss weight"):
        pre.loss(_FirstHalfOnly(), x0, sigma, noise, weight=-w)
    with pytest.raises(ValueError, match="loss weight"):
        pre.loss(_FirstHalfOnly(), x0, sigma, noise, weight=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="loss weight"):
        pre.loss(_FirstHalfOnly(), x0, sigma, noise, weight=torch.ones(4))
