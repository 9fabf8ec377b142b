"""Samplers against closed forms: the bimodal 1-D mixture, the Gaussian PF-ODE solution, and the
identity of first-order methods."""
import math

import pytest
import torch

from sciffusion.common.analytic import bimodal_1d, ks_statistic_1d, wasserstein1_1d
from sciffusion.common.denoisers import gaussian_denoiser
from sciffusion.common.grids import karras_grid
from sciffusion.common.samplers import SAMPLERS, ddim, dpm_solver_1, euler

N = 20_000
MIX = bimodal_1d()


def sample_mixture(name: str, steps: int):
    sigmas = karras_grid(steps, 0.002, 80.0, 7.0)
    z = torch.randn(N, 1, generator=torch.Generator().manual_seed(1234))
    return SAMPLERS[name](MIX.denoise, sigmas, sigmas[0] * z, generator=torch.Generator().manual_seed(5678))


@pytest.mark.parametrize("name,nfe", [("heun", 35), ("dpmpp_2m", 18)])
def test_bimodal_mixture_is_recovered(name, nfe):
    res = sample_mixture(name, SAMPLERS[name].steps_for_nfe(nfe))
    assert res.nfe == nfe
    w1, ks = wasserstein1_1d(res.x, MIX), ks_statistic_1d(res.x, MIX)
    assert w1 < 0.1 and ks < 0.04, (name, w1, ks)


@pytest.mark.parametrize("name", ["heun", "dpmpp_2m", "euler"])
def test_five_steps_are_not_enough(name):
    """The same bounds fail with 5 steps: the check can go red."""
    res = sample_mixture(name, 5)
    w1, ks = wasserstein1_1d(res.x, MIX), ks_statistic_1d(res.x, MIX)
    assert w1 > 0.1 or ks > 0.04, (name, w1, ks)


def test_exact_samples_pass_and_shifted_fail_the_metrics():
    exact = MIX.sample(N, torch.Generator().manual_seed(0))
    assert wasserstein1_1d(exact, MIX) < 0.03 and ks_statistic_1d(exact, MIX) < 0.015
    assert wasserstein1_1d(exact + 0.2, MIX) > 0.15


def test_ddim_euler_and_dpm_solver_1_agree():
    sigmas = karras_grid(12)
    z = torch.randn(4096, 1, generator=torch.Generator().manual_seed(0))
    outs = [f(MIX.denoise, sigmas, sigmas[0] * z).x for f in (ddim, euler, dpm_solver_1)]
    assert torch.allclose(outs[0], outs[1], atol=1e-5) and torch.allclose(outs[0], outs[2], atol=1e-5)


def gaussian_ode_solution(x_start, sigma_max, sigma_last, s):
    """PF-ODE for N(0, s²): x(σ) = x(σ_max) sqrt(s² + σ²)/sqrt(s² + σ_max²); then the last denoising."""
    x_last = x_start * math.sqrt(s**2 + sigma_last**2) / math.sqrt(s**2 + sigma_max**2)
    return x_last * s**2 / (s**2 + sigma_last**2)


# Max relative error at 100 NFE on the Karras grid, about twice what each method measured
# (euler 0.028, heun 0.0061, dpmpp_2m 0.0015, exp3m 1.4e-4, unipc 2.7e-4): higher-order exponential
# integrators must stay well ahead of Euler/Heun on this ODE.
@pytest.mark.parametrize("name,tol", [("euler", 0.05), ("heun", 0.012), ("dpmpp_2m", 3e-3), ("exp3m", 3e-4),
                                      ("unipc", 5e-4), ("unipc3", 1e-4)])
def test_deterministic_samplers_follow_the_gaussian_ode(name, tol):
    s, sigmas = 0.5, karras_grid(SAMPLERS[name].steps_for_nfe(100), dtype=torch.float64)
    x0 = sigmas[0] * torch.linspace(-2, 2, 64, dtype=torch.float64)[:, None]
    res = SAMPLERS[name](gaussian_denoiser(s), sigmas, x0)
    exact = gaussian_ode_solution(x0, float(sigmas[0]), float(sigmas[-2]), s)
    assert float(((res.x - exact).abs() / exact.abs()).max()) < tol


def test_adaptive_ode_meets_its_tolerance():
    s, sigmas = 0.5, karras_grid(10, dtype=torch.float64)
    x0 = sigmas[0] * torch.linspace(-2, 2, 64, dtype=torch.float64)[:, None]
    exact = gaussian_ode_solution(x0, float(sigmas[0]), float(sigmas[-2]), s)
    errs = {}
    for rtol in (1e-3, 1e-6):
        res = SAMPLERS["adaptive_ode"](gaussian_denoiser(s), sigmas, x0, rtol=rtol, atol=rtol)
        errs[rtol] = float(((res.x - exact).abs() / exact.abs()).max())
    assert errs[1e-6] < 1e-4 < errs[1e-3] < 1e-2, errs


@pytest.mark.parametrize("name,order", [("euler", 1), ("heun", 2), ("dpmpp_2m", 2)])
def test_order_of_convergence(name, order):
    """Halving the step (doubling steps on a log-linear grid) divides the global error by ≈ 2^order."""
    from sciffusion.common.grids import log_linear_grid

    s = 0.5
    errs = []
    for steps in (20, 40, 80):
        sigmas = log_linear_grid(steps, 0.05, 20.0, torch.float64)
        x0 = sigmas[0] * torch.linspace(-2, 2, 64, dtype=torch.float64)[:, None]
        res = SAMPLERS[name](gaussian_denoiser(s), sigmas, x0)
        errs.append(float((res.x - gaussian_ode_solution(x0, 20.0, 0.05, s)).abs().max()))
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert all(abs(r - order) < 0.35 for r in rates), (name, errs, rates)
