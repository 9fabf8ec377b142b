import math

import numpy as np
import pytest
import torch

from sciffusion.common.grids import karras_grid, log_linear_grid
from sciffusion.common.samplers.exp_multistep import exact_weights, exp_multistep, multistep_plan
from sciffusion.common.samplers.unipc import bh_weights, solve_small, unipc_bh, unipc_rhos

S = 0.7


def gaussian_denoiser(x, sigma):
    return x * S**2 / (S**2 + sigma.reshape(-1, *([1] * (x.dim() - 1))) ** 2)


def exact_ode_end(x_T, sigma_max):
    """PF-ODE for N(0, S²) data: x(σ) = x_T sqrt(S² + σ²)/sqrt(S² + σ_max²); the step to σ = 0
    returns D(x(σ_min)), so compare with the exact solution at σ = 0."""
    return x_T * S / math.sqrt(S**2 + sigma_max**2)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("variant", ["bh1", "bh2"])
def test_gaussian_samples_have_the_data_std(order, variant):
    x = 80.0 * torch.randn(20000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = unipc_bh(gaussian_denoiser, karras_grid(60, dtype=torch.float64), x, order=order, variant=variant)
    assert out.nfe == 60
    assert out.x.std().item() == pytest.approx(S, rel=0.03)


@pytest.mark.parametrize("order,variant,min_rate", [(1, "bh2", 1.8), (2, "bh2", 2.6), (2, "bh1", 2.6),
                                                     (3, "bh2", 3.3)])
def test_convergence_order(order, variant, min_rate):
    """Error against the exact Gaussian ODE solution shrinks like h^{order+1} (predictor + corrector)."""
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None] * 5.0
    errs = []
    for n in (20, 40):
        grid = log_linear_grid(n, sigma_min=0.05, sigma_max=5.0, dtype=torch.float64)
        got = unipc_bh(gaussian_denoiser, grid, x, order=order, variant=variant, final_correction=False).x
        errs.append((got - gaussian_denoiser(exact_state(x, 5.0, 0.05), torch.tensor([0.05]))).abs().max().item())
    assert math.log2(errs[0] / errs[1]) > min_rate


def exact_state(x_T, sigma_max, sigma):
    return x_T * math.sqrt(S**2 + sigma**2) / math.sqrt(S**2 + sigma_max**2)


def test_final_correction_helps_on_a_coarse_grid():
    x = 80.0 * torch.randn(1000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = exact_ode_end(x, 80.0)
    grid = karras_grid(6, dtype=torch.float64)
    plain = unipc_bh(gaussian_denoiser, grid, x, final_correction=False).x
    fixed = unipc_bh(gaussian_denoiser, grid, x, final_correction=True).x
    assert (fixed - exact).abs().max() < (plain - exact).abs().max()


def test_coefficients_match_the_reference_conventions():
    _, _, rho_p2 = unipc_rhos(0.5, [-1.0], "bh2", corrector=False)
    assert rho_p2 == [0.5]                     # UniP-2 uses rho = 1/2
    _, _, rho_c1 = unipc_rhos(0.5, [1.0], "bh2", corrector=True)
    assert rho_c1 == [0.5]                     # UniC-1 uses rho = 1/2
    h_phi_1, b_h, _ = unipc_rhos(0.5, [1.0], "bh1", corrector=True)
    assert h_phi_1 == pytest.approx(math.expm1(-0.5)) and b_h == -0.5


def test_solve_small_matches_numpy():
    a = np.random.default_rng(0).normal(size=(4, 4))
    b = np.random.default_rng(1).normal(size=4)
    assert np.allclose(solve_small(a.tolist(), b.tolist()), np.linalg.solve(a, b))


def test_rejects_bad_options():
    x = torch.zeros(2, 1)
    with pytest.raises(ValueError):
        unipc_bh(gaussian_denoiser, karras_grid(5), x, order=4)
    with pytest.raises(ValueError):
        unipc_bh(gaussian_denoiser, karras_grid(5), x, variant="bh3")


@pytest.mark.parametrize("variant", ["bh1", "bh2"])
def test_bh_weights_are_the_exact_ones_except_where_rho_is_fixed(variant):
    """The registry's unipc / unipc3 (exact weights) and unipc_bh share one loop and differ only in the
    weights: B(h) cancels wherever ρ comes from the full solve, so only the order-1 corrector and the
    order-2 predictor (ρ = 1/2 in the reference) differ."""
    sig = [float(s) for s in karras_grid(8, dtype=torch.float64)]
    bh = multistep_plan(sig, 3, bh_weights(variant), math.inf, corrector=True)
    exact = multistep_plan(sig, 3, exact_weights, math.inf, corrector=True)
    assert [p for p, _, _ in bh] == [p for p, _, _ in exact] == [1, 2, 3, 3, 3, 3, 2]
    for (p, pred_bh, corr_bh), (_, pred_ex, corr_ex) in zip(bh, exact):
        assert np.allclose(pred_bh, pred_ex, rtol=1e-9, atol=1e-12) == (p != 2)
        assert np.allclose(corr_bh, corr_ex, rtol=1e-9, atol=1e-12) == (p != 1)


def test_exact_weight_unipc_is_exp_multistep_with_the_corrector():
    """unipc3 through the shared loop: order-3 predictor and UniC give order 4 on the Gaussian ODE."""
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None] * 5.0
    errs = []
    for n in (20, 40):
        grid = log_linear_grid(n, sigma_min=0.05, sigma_max=5.0, dtype=torch.float64)
        got = exp_multistep(gaussian_denoiser, grid, x, order=3, corrector=True).x
        errs.append((got - gaussian_denoiser(exact_state(x, 5.0, 0.05), torch.tensor([0.05]))).abs().max().item())
    assert math.log2(errs[0] / errs[1]) > 3.3
