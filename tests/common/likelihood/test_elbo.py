import pytest
import torch

from sciffusion.common.denoisers import gaussian_denoiser
from sciffusion.common.likelihood.elbo import conditional_log_likelihoods, log_sigma_weights

S = 0.5  # data std given the condition


def _shifted(mean: torch.Tensor):
    """The exact denoiser of N(mean, S² I)."""
    base = gaussian_denoiser(S)
    return lambda x, sigma: mean + base(x - mean, sigma)


def _grid(lo=1e-3, hi=1e3, n=241):
    return torch.logspace(torch.log10(torch.tensor(lo)), torch.log10(torch.tensor(hi)), n, dtype=torch.float64)


def test_log_sigma_weights_integrate_in_log_sigma():
    sigmas = _grid(0.01, 100.0, 101)
    w = log_sigma_weights(sigmas)
    assert torch.isclose(w.sum(), torch.log(torch.tensor(100.0 / 0.01, dtype=torch.float64)))
    assert torch.equal(log_sigma_weights(torch.tensor([0.3])), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="increase"):
        log_sigma_weights(torch.tensor([1.0, 0.5]))
    with pytest.raises(ValueError, match="> 0"):
        log_sigma_weights(torch.tensor([0.0, 0.5]))


def test_differences_are_the_gaussian_log_likelihood_ratios():
    g = torch.Generator().manual_seed(0)
    d = 6
    means = [torch.zeros(d, dtype=torch.float64), torch.full((d,), 0.4, dtype=torch.float64),
             torch.linspace(-0.5, 0.5, d, dtype=torch.float64)]
    x = 0.4 + S * torch.randn(5, d, generator=g, dtype=torch.float64)
    ll = conditional_log_likelihoods([_shifted(m) for m in means], x, _grid(), draws=64, generator=g)
    exact = torch.stack([-((x - m) ** 2).sum(1) / (2 * S**2) for m in means], 1)
    got, want = ll - ll[:, :1], exact - exact[:, :1]
    assert torch.allclose(got, want, atol=0.25), (got, want)
    # the posterior picks the condition the exact likelihoods pick
    assert torch.equal(ll.argmax(1), exact.argmax(1))


def test_identical_conditions_give_identical_likelihoods():
    """Negative control: a model that ignores its condition cannot tell them apart."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 8, dtype=torch.float64, generator=g)
    same = _shifted(torch.zeros(1, dtype=torch.float64))
    ll = conditional_log_likelihoods([same, same], x, _grid(0.01, 10, 9), generator=g)
    assert torch.equal(ll[:, 0], ll[:, 1])
    assert (ll < 0).all()


def test_one_draw_is_seeded_and_shapes_checked():
    x = torch.randn(3, 4, dtype=torch.float64)
    dens = [_shifted(torch.zeros(1, dtype=torch.float64)), _shifted(torch.ones(1, dtype=torch.float64))]
    a = conditional_log_likelihoods(dens, x, _grid(0.1, 10, 5), generator=torch.Generator().manual_seed(3))
    b = conditional_log_likelihoods(dens, x, _grid(0.1, 10, 5), generator=torch.Generator().manual_seed(3))
    assert a.shape == (3, 2) and torch.equal(a, b)
    with pytest.raises(ValueError, match="at least one"):
        conditional_log_likelihoods([], x, _grid())
    with pytest.raises(ValueError, match="draws"):
        conditional_log_likelihoods(dens, x, _grid(), draws=0)
    with pytest.raises(ValueError, match="x: need"):
        conditional_log_likelihoods(dens, torch.zeros(3), _grid())
