"""The moment-matching posterior denoiser: exact conditional for Gaussian data, with every sampler.

Target: x0 ~ N(μ, Σ) in 4-D (the same Σ as test_inpaint.py, with a non-zero mean), known
coordinates 0-1 = (1, −0.5). Analytic conditionals come from ``Gaussian.condition`` on the joint
Gaussian of (x0, x_σ[, y]) — independent of the Tweedie-Jacobian formula under test.
Sampling bounds are 4 Monte-Carlo standard errors at N = 20,000 (mean: 4·sqrt(c_max/N) ≈ 0.020;
covariance entries: 4·sqrt(2)·c_max/sqrt(N) ≈ 0.020). ODE samplers start at σ_max = 1000: the usual
start x_T ~ N(0, σ_max² I) ignores the conditional mean, which biases a deterministic sampler's
output mean by ≈ sqrt(c)/σ_max · |mean| (0.013 at σ_max = 80 here; measured).
"""
import pytest
import torch

from sciffusion.common.analytic import Gaussian, GaussianMixture
from sciffusion.common.grids import karras_grid
from sciffusion.common.guidance import inpaint_posterior, inpaint_replace, tweedie_posterior
from sciffusion.common.guidance.posterior import batched_cg
from sciffusion.common.samplers import SAMPLERS

F64 = torch.float64
L = torch.tensor([[1.0, 0.0, 0, 0], [0.8, 0.6, 0, 0], [0.5, 0.3, 0.7, 0], [-0.6, 0.4, 0.2, 0.5]], dtype=F64)
DATA = Gaussian(torch.tensor([0.3, -0.2, 0.5, 1.0], dtype=F64), L @ L.T)
K, U = [0, 1], [2, 3]
Y = torch.tensor([1.0, -0.5], dtype=F64)
MASK = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=F64)
KNOWN = torch.tensor([1.0, -0.5, 0.0, 0.0], dtype=F64)
COND = DATA.condition(K, Y)
N = 20_000


def joint_with_noise(sigma: float, extra_cov_rows=None) -> Gaussian:
    """(x0, x_σ = x0 + σε) as one 8-D Gaussian."""
    s = DATA.cov
    cov = torch.cat([torch.cat([s, s], 1), torch.cat([s, s + sigma**2 * torch.eye(4, dtype=F64)], 1)], 0)
    return Gaussian(torch.cat([DATA.mean, DATA.mean]), cov)


@pytest.mark.parametrize("sigma", [1e-3, 0.1, 1.0, 10.0, 300.0])
def test_inpaint_posterior_is_the_conditional_denoiser(sigma):
    """D_y(x, σ) = E[x0 | x_σ = x, x0_k = y] exactly (to solver precision) at every σ."""
    g = torch.Generator().manual_seed(0)
    x = DATA.sample(6, g) + sigma * torch.randn(6, 4, generator=g, dtype=F64)
    got = inpaint_posterior(DATA.denoise, KNOWN, MASK, cg_iters=4)(x, torch.full((6,), sigma, dtype=F64))
    joint = joint_with_noise(sigma)
    for b in range(6):
        expected = joint.condition([0, 1, 4, 5, 6, 7], torch.cat([Y, x[b]])).mean  # x0_u given (x0_k, x_σ)
        assert torch.allclose(got[b, U], expected, atol=1e-8, rtol=1e-8), (sigma, got[b, U], expected)
        assert torch.equal(got[b, K], Y)


def test_tweedie_posterior_noisy_linear_measurement_closed_form():
    """y = A x0 + N(0, 0.3²): D_y(x, σ) = E[x0 | x_σ = x, y] from the 10-D joint of (x0, x_σ, y)."""
    g = torch.Generator().manual_seed(1)
    A = torch.randn(2, 4, generator=g, dtype=F64)
    s_y, sigma = 0.3, 0.8
    s = DATA.cov
    sa = s @ A.T
    cov = torch.zeros(10, 10, dtype=F64)
    cov[:4, :4], cov[:4, 4:8], cov[4:8, :4] = s, s, s
    cov[4:8, 4:8] = s + sigma**2 * torch.eye(4, dtype=F64)
    cov[:8, 8:] = torch.cat([sa, sa])
    cov[8:, :8] = cov[:8, 8:].T
    cov[8:, 8:] = A @ s @ A.T + s_y**2 * torch.eye(2, dtype=F64)
    joint = Gaussian(torch.cat([DATA.mean, DATA.mean, A @ DATA.mean]), cov)
    y = torch.tensor([0.4, -1.2], dtype=F64)
    x = DATA.sample(5, g) + sigma * torch.randn(5, 4, generator=g, dtype=F64)
    got = tweedie_posterior(DATA.denoise, lambda x0: x0 @ A.T, y, noise_std=s_y, cg_iters=4)(
        x, torch.full((5,), sigma, dtype=F64))
    for b in range(5):
        expected = joint.condition(list(range(4, 10)), torch.cat([x[b], y])).mean
        assert torch.allclose(got[b], expected, atol=1e-8), (got[b], expected)


ODE = ["euler", "heun", "dpmpp_2m", "exp3m", "unipc", "lms", "ipndm", "adaptive_ode"]


@pytest.mark.parametrize("method", ["posterior", "replacement"])
@pytest.mark.parametrize("name", ["heun", "dpmpp_2m", "unipc", "ipndm", "adaptive_ode", "dpmpp_2m_sde", "heun_churn"])
def test_sampling_gives_the_analytic_conditional(name, method):
    """Every sampler with the posterior denoiser reproduces N(COND.mean, COND.cov) within 4 SE and keeps
    the known part exactly; replacement (the broken guidance) must fail the same bounds."""
    steps = 100 if name in ODE else 300
    grid = karras_grid(steps, 0.002, 1000.0, dtype=F64)
    g = torch.Generator().manual_seed(2)
    x = grid[0] * torch.randn(N, 4, generator=g, dtype=F64)
    make = inpaint_posterior if method == "posterior" else inpaint_replace
    out = SAMPLERS[name](make(DATA.denoise, KNOWN, MASK), grid, x, generator=g).x
    assert torch.equal(out[:, K], Y.expand(N, 2))
    c = float(COND.cov.diag().max())
    mean_err = float((out[:, U].mean(0) - COND.mean).abs().max())
    cov_err = float((torch.cov(out[:, U].T) - COND.cov).abs().max())
    within = mean_err < 4 * (c / N) ** 0.5 and cov_err < 4 * 2**0.5 * c / N**0.5
    assert within == (method == "posterior"), (mean_err, cov_err)


def test_sampling_noisy_measurement_posterior():
    """y = A x0 + N(0, 0.3²) with A 2×4: the full 4-D posterior p(x0 | y) within 4 SE (DPM++2M, 100 steps)."""
    g = torch.Generator().manual_seed(3)
    A = torch.randn(2, 4, generator=g, dtype=F64)
    s_y, y = 0.3, torch.tensor([0.4, -1.2], dtype=F64)
    gain = DATA.cov @ A.T @ torch.linalg.inv(A @ DATA.cov @ A.T + s_y**2 * torch.eye(2, dtype=F64))
    post_mean = DATA.mean + gain @ (y - A @ DATA.mean)
    post_cov = DATA.cov - gain @ A @ DATA.cov
    grid = karras_grid(100, 0.002, 1000.0, dtype=F64)
    x = grid[0] * torch.randn(N, 4, generator=g, dtype=F64)
    out = SAMPLERS["dpmpp_2m"](tweedie_posterior(DATA.denoise, lambda x0: x0 @ A.T, y, s_y, 4), grid, x).x
    c = float(post_cov.diag().max())
    assert float((out.mean(0) - post_mean).abs().max()) < 4 * (c / N) ** 0.5
    assert float((torch.cov(out.T) - post_cov).abs().max()) < 4 * 2**0.5 * c / N**0.5


def test_block_formula_on_a_mixture():
    """Non-Gaussian data: D_y = D_u + J_uk J_kk⁻¹ (y − D_k) with J the exact mixture denoiser's Jacobian
    (computed densely here), i.e. the CG solve and the vector-Jacobian products are right."""
    g = torch.Generator().manual_seed(4)
    mix = GaussianMixture(torch.tensor([0.4, 0.6], dtype=F64), torch.randn(2, 6, generator=g, dtype=F64) * 2,
                          torch.tensor([0.5, 0.8], dtype=F64))
    mask = torch.tensor([1.0, 0, 1, 0, 0, 1], dtype=F64)
    k, u = [0, 2, 5], [1, 3, 4]
    known = torch.randn(6, generator=g, dtype=F64) * mask
    x = torch.randn(3, 6, generator=g, dtype=F64) * 1.5
    sigma = 0.9
    got = inpaint_posterior(mix.denoise, known, mask, cg_iters=3)(x, torch.full((3,), sigma, dtype=F64))
    for b in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: mix.denoise(v[None], sigma)[0], x[b])
        d = mix.denoise(x[b:b + 1], sigma)[0]
        expected = d[u] + jac[u][:, k] @ torch.linalg.solve(jac[k][:, k], known[k] - d[k])
        assert torch.allclose(got[b, u], expected, atol=1e-9)


def test_images_batched_equals_one_at_a_time():
    """[B, C, H, W] tensors with a per-sample network: the known pixels are exact and each sample's
    result does not depend on the rest of the batch."""
    torch.manual_seed(5)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(4, 1, 3, padding=1))

    def denoise(x, sigma):  # D = x − small correction: a well-conditioned Jacobian
        return x - 0.1 * net(x) * sigma.reshape(-1, 1, 1, 1) / (1 + sigma.reshape(-1, 1, 1, 1))

    mask = (torch.rand(1, 1, 6, 6) < 0.4).float()
    known = torch.randn(3, 1, 6, 6)
    x = torch.randn(3, 1, 6, 6)
    sigma = torch.tensor([0.5, 2.0, 8.0])
    post = inpaint_posterior(denoise, known, mask, cg_iters=20)
    out = post(x, sigma)
    assert torch.equal(out * mask, known * mask)
    singles = torch.cat([inpaint_posterior(denoise, known[i:i + 1], mask, 20)(x[i:i + 1], sigma[i:i + 1])
                         for i in range(3)])
    assert torch.allclose(out, singles, atol=1e-5)


def test_batched_cg_solves_and_survives_singular_systems():
    g = torch.Generator().manual_seed(6)
    m = torch.randn(4, 5, 5, generator=g, dtype=F64)
    spd = m @ m.transpose(1, 2) + 0.1 * torch.eye(5, dtype=F64)
    rhs = torch.randn(4, 5, generator=g, dtype=F64)
    w = batched_cg(lambda v: torch.einsum("bij,bj->bi", spd, v), rhs, iters=5, rtol=1e-14)
    assert torch.allclose(w, torch.linalg.solve(spd, rhs), atol=1e-8)
    low = m[:, :, :2] @ m[:, :, :2].transpose(1, 2)  # rank 2, consistent right-hand side
    rhs_low = torch.einsum("bij,bj->bi", low, torch.randn(4, 5, generator=g, dtype=F64))
    w = batched_cg(lambda v: torch.einsum("bij,bj->bi", low, v), rhs_low, iters=10)
    assert torch.isfinite(w).all()
    assert torch.allclose(torch.einsum("bij,bj->bi", low, w), rhs_low, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mask"):
        inpaint_posterior(DATA.denoise, KNOWN, MASK * 0.5)
    with pytest.raises(ValueError, match="cg_iters"):
        inpaint_posterior(DATA.denoise, KNOWN, MASK, cg_iters=0)
    with pytest.raises(ValueError, match="damping"):
        inpaint_posterior(DATA.denoise, KNOWN, MASK, damping=-0.1)
    with pytest.raises(ValueError, match="noise_std"):
        tweedie_posterior(DATA.denoise, lambda x0: x0, Y, noise_std=-1.0)


@pytest.mark.parametrize("centred", [True, False])
def test_conditional_start_removes_the_sigma_max_bias(centred):
    """Gaussian data: the PF-ODE map is affine, so antithetic starts (ε, −ε) make the output mean the
    pure bias. From x_T = σ_max ε at σ_max = 80 it is 3.6e-3 (measured); from the centred start < 1e-5."""
    from sciffusion.common.guidance import conditional_start

    grid = karras_grid(100, 0.002, 80.0, dtype=F64)
    z = torch.randn(500, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    z = torch.cat([z, -z])
    den = inpaint_posterior(DATA.denoise, KNOWN, MASK)
    x = conditional_start(den, z, 80.0) if centred else grid[0] * z
    out = SAMPLERS["dpmpp_2m"](den, grid, x).x
    bias = float((out[:, U].mean(0) - COND.mean).abs().max())
    assert (bias < 1e-5) == centred, bias
    if not centred:
        assert bias > 1e-3
