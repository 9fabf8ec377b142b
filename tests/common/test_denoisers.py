"""Every adapter (ε, x0, v, score, EDM) gives the same, exact denoiser on Gaussian data N(0, s²)."""
import pytest
import torch

from sciffusion.common.denoisers import (
    EDMPrecond, EpsDenoiser, ScoreDenoiser, VDenoiser, X0Denoiser, bind_condition, edm_coefficients, gaussian_denoiser,
    per_sample,
)
from sciffusion.common.processes import DiscreteProcess, EDMProcess, SubVPProcess, VEProcess, VPProcess

DATA_STD = 0.8


def exact_x0(xhat, sigma):
    return xhat * DATA_STD**2 / (DATA_STD**2 + per_sample(sigma, xhat) ** 2)


def exact_networks(proc):
    """Networks ``net(x_t, t, cond)`` predicting ε, x0, v and the score exactly, built from the
    closed-form posterior of N(0, s²) data; x_t = s(t)(x0 + σ(t) ε)."""

    def split(x_t, t):
        s = per_sample(proc.scale(t.double()).to(x_t.dtype), x_t)
        sig = per_sample(proc.sigma(t.double()).to(x_t.dtype), x_t)
        return s, sig, x_t / s

    def eps(x_t, t, cond):
        s, sig, xhat = split(x_t, t)
        return (xhat - xhat * DATA_STD**2 / (DATA_STD**2 + sig**2)) / sig

    def x0(x_t, t, cond):
        s, sig, xhat = split(x_t, t)
        return xhat * DATA_STD**2 / (DATA_STD**2 + sig**2)

    def v(x_t, t, cond):
        s, sig, xhat = split(x_t, t)
        return s * eps(x_t, t, cond) - s * sig * x0(x_t, t, cond)

    def score(x_t, t, cond):  # x_t ~ N(0, s² (s_d² + σ²))
        s, sig, _ = split(x_t, t)
        return -x_t / (s**2 * (DATA_STD**2 + sig**2))

    return {"eps": eps, "x0": x0, "v": v, "score": score}


ADAPTERS = {"eps": EpsDenoiser, "x0": X0Denoiser, "v": VDenoiser, "score": ScoreDenoiser}


@pytest.mark.parametrize("proc", [VPProcess(), SubVPProcess(), VEProcess(0.01, 50), DiscreteProcess()],
                         ids=["vp", "subvp", "ve", "ddpm"])
@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_adapter_gives_exact_denoiser(proc, kind):
    net = exact_networks(proc)[kind]
    den = ADAPTERS[kind](net, proc)
    g = torch.Generator().manual_seed(1)
    sigma = torch.logspace(-1.5, 1.3, 16, dtype=torch.float64).clamp(proc.sigma_min * 1.01, proc.sigma_max * 0.99)
    xhat = torch.randn(16, 3, generator=g, dtype=torch.float64) * (DATA_STD**2 + sigma[:, None] ** 2).sqrt()
    assert torch.allclose(den(xhat, sigma), exact_x0(xhat, sigma), rtol=1e-7, atol=1e-9)


def test_edm_preconditioning_gives_exact_denoiser():
    pre = None

    def F(x_in, c_noise, cond):  # F = (D − c_skip x) / c_out, x recovered from c_in x
        sigma = torch.exp(4 * c_noise)
        c_skip, c_out, c_in, _ = pre.coefficients(sigma)
        x = x_in / per_sample(c_in, x_in)
        return (exact_x0(x, sigma) - per_sample(c_skip, x) * x) / per_sample(c_out, x)

    pre = EDMPrecond(F, sigma_data=0.5)
    sigma = torch.logspace(-2, 1.8, 10, dtype=torch.float64)
    x = torch.randn(10, 4, dtype=torch.float64)
    assert torch.allclose(pre(x, sigma), exact_x0(x, sigma), rtol=1e-9)
    c_skip, c_out, c_in, c_noise = pre.coefficients(torch.tensor([0.5], dtype=torch.float64))
    assert torch.allclose(c_skip, torch.tensor([0.5], dtype=torch.float64))  # σ = σ_data: c_skip = 1/2
    assert torch.allclose(c_in**2 * (0.5**2 + 0.5**2), torch.ones(1, dtype=torch.float64))


def test_v_adapter_without_normalisation_would_fail_on_ve():
    """The VE process has α² + σ_t² ≠ 1, so the VP-only shortcut x0 = α x_t − σ_t v is wrong there."""
    proc = VEProcess(0.01, 50)
    net = exact_networks(proc)["v"]
    sigma = torch.full((8,), 2.0, dtype=torch.float64)
    x = torch.randn(8, 2, dtype=torch.float64)
    shortcut = x - per_sample(sigma, x) * net(x, proc.t_of_sigma(sigma), None)
    assert not torch.allclose(shortcut, exact_x0(x, sigma), atol=1e-3)
    assert torch.allclose(VDenoiser(net, proc)(x, sigma), exact_x0(x, sigma), atol=1e-9)


def test_bind_condition_and_scalar_sigma():
    seen = {}

    def den(x, sigma, cond=None):
        seen["cond"], seen["sigma_shape"] = cond, tuple(sigma.shape)
        return gaussian_denoiser(DATA_STD)(x, sigma)

    out = bind_condition(den, "label-3")(torch.ones(5, 2), torch.full((5,), 1.0))
    assert seen == {"cond": "label-3", "sigma_shape": (5,)}
    assert torch.allclose(out, torch.full((5, 2), DATA_STD**2 / (DATA_STD**2 + 1)))
    assert torch.allclose(gaussian_denoiser(1.0)(torch.ones(3, 1), 1.0), torch.full((3, 1), 0.5))


def test_edm_coefficients_closed_form():
    """Karras et al. 2022, Table 1: c_skip = 1/2 at σ = σ_d; c_skip → 1, c_out → 0 as σ → 0 (D → x);
    c_skip → 0, c_out → σ_d as σ → ∞; c_in² (σ² + σ_d²) = 1 (unit-variance input); c_noise = ln σ / 4."""
    sd = 0.7
    sigma = torch.tensor([sd, 1e-6, 1e6, 2.0], dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, sd)
    want_skip = torch.tensor([0.5, 1.0, 0.0, sd**2 / (4 + sd**2)], dtype=torch.float64)
    assert torch.allclose(c_skip, want_skip, atol=1e-10)
    assert torch.allclose(c_out, torch.tensor([sd / 2**0.5, 0.0, sd, 2 * sd / (4 + sd**2) ** 0.5],
                                              dtype=torch.float64), atol=1e-6)
    assert torch.allclose(c_in**2 * (sigma**2 + sd**2), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(c_noise, sigma.log() / 4)
    # App. B.6: c_out² = c_skip² σ² + (1 − c_skip)² σ_d², i.e. the network's target has unit variance
    assert torch.allclose(c_skip**2 * sigma**2 + (1 - c_skip) ** 2 * sd**2, c_out**2)
