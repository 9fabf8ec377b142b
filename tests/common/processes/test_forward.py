"""Forward processes: x_t = s(t)(x0 + σ(t) ε) — round trips, identities and noising statistics."""
import math

import pytest
import torch

from sciffusion.common.processes import (
    DiscreteProcess, EDMProcess, SubVPProcess, VEProcess, VPProcess, beta_schedule,
)

CONTINUOUS = [VPProcess(), SubVPProcess(), VEProcess(), EDMProcess()]


@pytest.mark.parametrize("proc", CONTINUOUS + [DiscreteProcess(), DiscreteProcess(schedule="cosine")],
                         ids=lambda p: type(p).__name__ + getattr(p, "schedule", ""))
def test_sigma_and_time_round_trip(proc):
    sig = torch.logspace(math.log10(proc.sigma_min) + 0.01, math.log10(proc.sigma_max) - 0.01, 50,
                         dtype=torch.float64)
    assert torch.allclose(proc.sigma(proc.t_of_sigma(sig)), sig, rtol=1e-9)


def test_vp_is_variance_preserving_and_matches_song_et_al():
    proc = VPProcess(beta_min=0.1, beta_max=20.0)
    t = torch.linspace(1e-3, 1, 20, dtype=torch.float64)
    s, sig = proc.scale(t), proc.sigma(t)
    assert torch.allclose(s**2 * (1 + sig**2), torch.ones_like(t), atol=1e-12)
    log_mean_coeff = -0.25 * t**2 * (20.0 - 0.1) - 0.5 * t * 0.1  # score_sde's marginal_prob
    assert torch.allclose(s, log_mean_coeff.exp(), rtol=1e-12)


def test_subvp_std_is_one_minus_alpha_bar():
    proc = SubVPProcess()
    t = torch.linspace(1e-3, 1, 20, dtype=torch.float64)
    alpha_bar = proc.scale(t) ** 2
    assert torch.allclose(proc.noise_std(t), 1 - alpha_bar, rtol=1e-10)


def test_ve_and_edm_do_not_scale():
    for proc in (VEProcess(0.01, 50), EDMProcess()):
        t = torch.linspace(0.1, 0.9, 5, dtype=torch.float64)
        assert torch.equal(proc.scale(t), torch.ones_like(t))
    assert torch.allclose(VEProcess(0.01, 50).sigma(torch.tensor([0.0, 1.0])), torch.tensor([0.01, 50.0]))


@pytest.mark.parametrize("proc", CONTINUOUS, ids=lambda p: type(p).__name__)
def test_add_noise_has_the_stated_moments(proc):
    g = torch.Generator().manual_seed(0)
    n, data_std = 200_000, 0.7
    x0 = data_std * torch.randn(n, 1, generator=g, dtype=torch.float64)
    t = torch.full((n,), float(proc.t_of_sigma(torch.tensor(1.3, dtype=torch.float64))), dtype=torch.float64)
    xt = proc.add_noise(x0, torch.randn(n, 1, generator=g, dtype=torch.float64), t)
    expected_var = proc.scale(t[0]) ** 2 * (data_std**2 + 1.3**2)
    assert abs(float(xt.var()) / float(expected_var) - 1) < 0.01


def test_discrete_process_table_matches_cumprod():
    proc = DiscreteProcess("linear", 1000)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert torch.allclose(proc.alphas_bar, alpha_bar)
    ts = torch.tensor([0.0, 10.0, 500.0, 999.0], dtype=torch.float64)
    assert torch.allclose(proc.sigma(ts), ((1 - alpha_bar) / alpha_bar).sqrt()[ts.long()], rtol=1e-12)
    assert torch.allclose(proc.scale(ts), alpha_bar.sqrt()[ts.long()], rtol=1e-12)
    assert torch.allclose(proc.t_of_sigma(proc.sigma(ts)), ts, atol=1e-9)


def test_zero_terminal_snr_rescaling():
    betas = beta_schedule("scaled_linear", 1000, 0.00085, 0.012)
    from sciffusion.common.processes import rescale_zero_terminal_snr

    new = rescale_zero_terminal_snr(betas)
    ab_old, ab_new = torch.cumprod(1 - betas, 0), torch.cumprod(1 - new, 0)
    assert ab_new[-1] == 0
    assert torch.allclose(ab_new[0], ab_old[0])
    assert (new[:-1] > 0).all() and (new <= 1).all()
    proc = DiscreteProcess("scaled_linear", 1000, 0.00085, 0.012, zero_terminal_snr=True)
    assert math.isfinite(proc.sigma_max) and proc.sigma_max > 1000  # capped at ᾱ = 2^-24, as diffusers


def test_cosine_schedule_matches_nichol_dhariwal():
    T, s = 1000, 0.008
    betas = beta_schedule("cosine", T)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    alpha_bar_500 = f(500) / f(0)
    assert abs(float(torch.cumprod(1 - betas, 0)[499]) - alpha_bar_500) < 1e-9


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="beta schedule"):
        beta_schedule("quadratic")
    with pytest.raises(ValueError, match="sigma range"):
        VEProcess(1.0, 0.5)
    with pytest.raises(ValueError, match="num_timesteps"):
        beta_schedule("linear", 0)
