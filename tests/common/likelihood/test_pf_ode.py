import math

import pytest
import torch

from sciffusion.common.denoisers import gaussian_denoiser
from sciffusion.common.likelihood import LikelihoodConfig, log_likelihood
from sciffusion.common.likelihood import pf_ode

SIGMA_MIN, SIGMA_MAX = 1e-5, 80.0


def _case(d: int, batch: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    std = torch.linspace(0.3, 1.5, d, dtype=torch.float64)
    x = torch.randn(batch, d, generator=g, dtype=torch.float64) * std
    # the exact answer for the σ_min convention: log N(x; 0, std² + σ_min²)
    analytic = torch.distributions.Normal(0, (std**2 + SIGMA_MIN**2).sqrt()).log_prob(x).sum(1)
    prior = lambda y: torch.distributions.Normal(0, (std**2 + SIGMA_MAX**2).sqrt()).log_prob(y).sum(1)
    return std, x, analytic, prior


def _config(**kw):
    return LikelihoodConfig(sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rtol=1e-6, atol=1e-6, **kw)


@pytest.mark.parametrize("d", [2, 8, 64])
def test_exact_trace_matches_gaussian_log_density(d):
    std, x, analytic, prior = _case(d, batch=4 if d == 64 else 6)
    res = log_likelihood(gaussian_denoiser(std), x, _config(prior="marginal"), log_prior=prior)
    assert (res.log_prob - analytic).abs().max() < 1e-3
    assert torch.allclose(res.nats, -res.log_prob)
    assert res.nfe > 10 and res.dim == d


def test_gaussian_prior_close_when_sigma_max_dominates():
    std, x, analytic, _ = _case(8)
    res = log_likelihood(gaussian_denoiser(std), x, _config())
    assert (res.log_prob - analytic).abs().max() < 2e-3


def test_marginal_prior_without_callable_uses_sigma_data():
    g = torch.Generator().manual_seed(3)
    x = 0.7 * torch.randn(5, 8, generator=g, dtype=torch.float64)
    analytic = torch.distributions.Normal(0, math.sqrt(0.49 + SIGMA_MIN**2)).log_prob(x).sum(1)
    cfg = LikelihoodConfig(sigma_min=SIGMA_MIN, sigma_max=5.0, rtol=1e-6, atol=1e-6, prior="marginal", sigma_data=0.7)
    res = log_likelihood(gaussian_denoiser(0.7), x, cfg)
    assert (res.log_prob - analytic).abs().max() < 1e-3
    # with the plain N(0, σ_max²) prior the small σ_max shows up as a clear error
    res_plain = log_likelihood(gaussian_denoiser(0.7), x, LikelihoodConfig(sigma_min=SIGMA_MIN, sigma_max=5.0))
    assert (res_plain.log_prob - analytic).abs().max() > 1e-2


def test_dropping_the_divergence_term_fails(monkeypatch):
    std, x, analytic, prior = _case(8)
    real = pf_ode.exact_trace
    monkeypatch.setattr(pf_ode, "exact_trace", lambda den, xs, s: (real(den, xs, s)[0], torch.zeros(len(xs), dtype=xs.dtype)))
    res = log_likelihood(gaussian_denoiser(std), x, _config(prior="marginal"), log_prior=prior)
    assert (res.log_prob - analytic).abs().max() > 1.0


def test_wrong_sigma_scaling_fails():
    std, x, analytic, prior = _case(8)
    exact = gaussian_denoiser(std)
    wrong = lambda xs, s: exact(xs, 2 * s)  # denoiser thinks the noise is twice as large
    res = log_likelihood(wrong, x, _config(prior="marginal"), log_prior=prior)
    assert (res.log_prob - analytic).abs().max() > 1e-2


def test_batched_equals_one_at_a_time():
    std, x, _, prior = _case(2, batch=3)
    cfg = _config(prior="marginal")
    whole = log_likelihood(gaussian_denoiser(std), x, cfg, log_prior=prior).log_prob
    single = torch.cat([log_likelihood(gaussian_denoiser(std), x[i:i + 1], cfg, log_prior=prior).log_prob
                        for i in range(3)])
    assert torch.allclose(whole, single, atol=1e-4)


def test_sigma_min_convention_evaluates_smoothed_density():
    # with σ_min = 0.3 the result is log N(x; 0, s² + 0.3²), not log N(x; 0, s²)
    x = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    cfg = LikelihoodConfig(sigma_min=0.3, sigma_max=SIGMA_MAX, rtol=1e-7, atol=1e-7)
    res = log_likelihood(gaussian_denoiser(1.0), x, cfg)
    smoothed = torch.distributions.Normal(0, math.sqrt(1 + 0.09)).log_prob(x).sum()
    assert abs(float(res.log_prob) - float(smoothed)) < 1e-3
    assert abs(float(res.log_prob) - float(torch.distributions.Normal(0, 1.0).log_prob(x).sum())) > 0.02


@pytest.mark.parametrize("kw, match", [
    ({"sigma_min": 0.0}, "sigma range"), ({"n_probes": 0}, "n_probes"), ({"trace": "exactly"}, "trace"),
    ({"method": "nope"}, "method"), ({"prior": "flat"}, "prior"), ({"probe": "sphere"}, "probe"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        LikelihoodConfig(**kw)


def test_log_prior_needs_marginal():
    with pytest.raises(ValueError, match="log_prior"):
        log_likelihood(gaussian_denoiser(1.0), torch.zeros(1, 2), LikelihoodConfig(), log_prior=lambda y: y.sum(1))
