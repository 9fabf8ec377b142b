import importlib.util
import math

import pytest
import torch

from sciffusion.common.grids import karras_grid, log_linear_grid
from sciffusion.common.samplers.linear_multistep import ADAMS_BASHFORTH, lagrange_integral_weights, lms

S = 0.7


def gaussian_denoiser(x, sigma):
    return x * S**2 / (S**2 + sigma.reshape(-1, *([1] * (x.dim() - 1))) ** 2)


def test_equal_steps_give_the_adams_bashforth_coefficients():
    for k, coeffs in ADAMS_BASHFORTH.items():
        assert lagrange_integral_weights([-float(m) for m in range(k)]) == pytest.approx(coeffs, rel=1e-12)
    # Adams–Moulton 2-step (trapezoid) and 4-step (9, 19, -5, 1)/24
    assert lagrange_integral_weights([1.0, 0.0]) == pytest.approx([0.5, 0.5])
    assert lagrange_integral_weights([1.0, 0.0, -1.0, -2.0]) == pytest.approx([9 / 24, 19 / 24, -5 / 24, 1 / 24])


@pytest.mark.parametrize("opts", [dict(), dict(variable_step=False), dict(corrector=True), dict(order=2)])
def test_gaussian_samples_have_the_data_std(opts):
    x = 80.0 * torch.randn(20000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = lms(gaussian_denoiser, karras_grid(30, dtype=torch.float64), x, **opts)
    assert out.nfe == 30
    assert out.x.std().item() == pytest.approx(S, rel=0.03)


@pytest.mark.parametrize("order,corrector,min_rate", [(1, False, 0.9), (2, False, 1.8), (3, False, 1.9),
                                                       (4, False, 1.9)])
def test_convergence_order(order, corrector, min_rate):
    """Global error ~ h^min(order, 2): the warm-up's first step is Euler (local error h²), which
    caps the global order at 2 for any order >= 2 (as in k-diffusion's LMS)."""
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None] * 5.0
    s_max, s_min = 5.0, 0.5
    exact = x * math.sqrt(S**2 + s_min**2) / math.sqrt(S**2 + s_max**2)
    errs = []
    for n in (40, 80):
        grid = log_linear_grid(n, sigma_min=s_min, sigma_max=s_max, dtype=torch.float64)
        states = []
        lms(gaussian_denoiser, grid, x, order=order, corrector=corrector,
            callback=lambda info: states.append(info.x))
        errs.append((states[-2] - exact).abs().max().item())  # state at σ_min, before the final denoise
    assert math.log2(errs[0] / errs[1]) > min_rate


@pytest.mark.skipif(importlib.util.find_spec("k_diffusion") is None, reason="k-diffusion not installed")
def test_lms_matches_k_diffusion():
    from sciffusion.pipelines.bench.peers import load_k_sampling

    K = load_k_sampling()
    x = 80.0 * torch.randn(64, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    sig = karras_grid(12, dtype=torch.float64)
    ours = lms(gaussian_denoiser, sig, x).x
    theirs = K.sample_lms(lambda x, s: gaussian_denoiser(x, s), x, sig, disable=True)
    # k-diffusion integrates the last step (σ_min → 0) with the ε polynomial, we return D(x, σ_min):
    # the two differ by O(σ_min²)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-3)
    assert not torch.allclose(ours, lms(gaussian_denoiser, sig, x, order=2).x, rtol=0, atol=1e-3)


def test_rejects_bad_order():
    with pytest.raises(ValueError):
        lms(gaussian_denoiser, karras_grid(5), torch.zeros(2, 1), order=5)
