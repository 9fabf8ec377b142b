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
