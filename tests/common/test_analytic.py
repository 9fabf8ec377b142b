"""Closed-form targets: the mixture denoiser is the posterior mean, log_prob integrates to 1."""
import torch

from sciffusion.common.analytic import GaussianMixture, bimodal_1d


def test_denoiser_is_the_monte_carlo_posterior_mean():
    mix = bimodal_1d()
    g = torch.Generator().manual_seed(0)
    x0 = mix.sample(400_000, g)
    sigma = 1.5
    x = x0 + sigma * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    bins = torch.linspace(-3, 3, 7, dtype=torch.float64)
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (x[:, 0] >= lo) & (x[:, 0] < hi)
        assert abs(float(x0[sel].mean() - mix.denoise(x[sel], sigma).mean())) < 0.01


def test_log_prob_normalises_and_matches_gaussian():
    mix = bimodal_1d()
    grid = torch.linspace(-12, 12, 20001, dtype=torch.float64)[:, None]
    for sigma in (0.0, 2.0):
        assert abs(float(torch.trapezoid(mix.log_prob(grid, sigma).exp(), grid[:, 0])) - 1) < 1e-6
    single = GaussianMixture(torch.tensor([1.0]), torch.zeros(1, 2), torch.tensor([0.7]))
    x = torch.randn(5, 2, dtype=torch.float64)
    expected = torch.distributions.Normal(0.0, 0.7).log_prob(x).sum(1)
    assert torch.allclose(single.log_prob(x), expected)


def test_mixture_condition_matches_bayes_on_a_grid():
    """p(x1 | x0 = v) of a 2-D mixture, by brute force on a grid of x1, equals ``condition``."""
    mix = GaussianMixture(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), torch.tensor([[-1.5, -1.0], [1.5, 1.5], [1.0, -2.0]]),
                          torch.tensor([0.6, 0.5, 0.8]))
    v = 0.7
    x1 = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    joint = mix.log_prob(torch.stack([torch.full_like(x1, v), x1], 1)).exp()
    cond = mix.condition([0], torch.tensor([v]))
    assert cond.dim == 1
    brute = joint / torch.trapezoid(joint, x1)
    assert torch.allclose(cond.log_prob(x1[:, None]).exp(), brute, atol=1e-9)


def test_gaussian_denoiser_sample_and_condition():
    from sciffusion.common.analytic import Gaussian
    L = torch.tensor([[1.0, 0, 0], [0.8, 0.6, 0], [-0.5, 0.3, 0.7]], dtype=torch.float64)
    gauss = Gaussian(torch.tensor([0.5, -1.0, 2.0]), L @ L.T)
    g = torch.Generator().manual_seed(0)
    x0 = gauss.sample(200_000, g)
    assert torch.allclose(torch.cov(x0.T), gauss.cov, atol=0.02)
    # Denoiser = linear regression of x0 on x (exact for Gaussians): compare with least squares.
    sigma = 0.9
    x = x0 + sigma * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    design = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(design, x0).solution
    probe = torch.randn(7, 3, dtype=torch.float64, generator=g)
    fitted = torch.cat([probe, torch.ones(7, 1, dtype=torch.float64)], 1) @ coef
    assert torch.allclose(gauss.denoise(probe, sigma), fitted, atol=0.02)
    # Conditioning on x1 = 0.3: compare with the samples whose x1 is near 0.3.
    cond = gauss.condition([1], torch.tensor([0.3]))
    near = x0[(x0[:, 1] - 0.3).abs() < 0.02][:, [0, 2]]
    assert torch.allclose(near.mean(0), cond.mean, atol=0.05)
    assert torch.allclose(torch.cov(near.T), cond.cov, atol=0.05)
    for bad in ([3], [1, 1], []):
        try:
            gauss.condition(bad, torch.zeros(len(bad)))
        except ValueError as err:
            assert "known" in str(err)
        else:
            raise AssertionError(f"condition({bad}) accepted")
