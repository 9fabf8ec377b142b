import torch

from sciffusion.common.likelihood import LikelihoodConfig, draw_probes, exact_trace, hutchinson_trace, log_likelihood


def _full_cov_denoiser(d: int, seed: int = 0):
    """Exact denoiser for N(0, Σ) with a dense Σ: D(x, σ) = Σ (Σ + σ² I)^{-1} x (non-diagonal Jacobian)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    cov = a @ a.T / d + 0.2 * torch.eye(d, dtype=torch.float64)

    lam, q = torch.linalg.eigh(cov)

    def denoise(x, sigma):
        return ((x @ q) * (lam / (lam + sigma[:, None] ** 2))) @ q.T

    return cov, denoise


def test_hutchinson_is_unbiased_for_one_jacobian():
    cov, den = _full_cov_denoiser(6)
    x = torch.randn(1, 6, dtype=torch.float64).expand(4000, 6).contiguous()
    sigma = torch.full((4000,), 0.7, dtype=torch.float64)
    _, exact = exact_trace(den, x[:1], sigma[:1])
    for kind in ("rademacher", "gaussian"):
        probes = draw_probes(tuple(x.shape), 1, kind, torch.Generator().manual_seed(1), x.dtype, x.device)
        _, est = hutchinson_trace(den, x, sigma, probes)
        assert est.std() > 0.05  # a real estimator, not the exact trace in disguise
        assert abs(est.mean() - exact[0]) < 4 * est.std() / 4000**0.5


def test_hutchinson_loglik_mean_over_seeds_matches_exact_and_spread_falls():
    cov, den = _full_cov_denoiser(4)
    x = torch.distributions.MultivariateNormal(torch.zeros(4, dtype=torch.float64), cov).sample((1,))
    xs = x.expand(48, 4).contiguous()  # each batch row gets its own probes: 48 independent estimates
    analytic = torch.distributions.MultivariateNormal(torch.zeros(4, dtype=torch.float64),
                                                      cov + 1e-6 * torch.eye(4, dtype=torch.float64)).log_prob(x)
    base = dict(sigma_min=1e-3, sigma_max=80.0, rtol=1e-5, atol=1e-5)
    exact = log_likelihood(den, x, LikelihoodConfig(**base)).log_prob
    spreads = []
    for n in (1, 16):
        cfg = LikelihoodConfig(**base, trace="hutchinson", n_probes=n, probe="gaussian")
        est = log_likelihood(den, xs, cfg, generator=torch.Generator().manual_seed(n)).log_prob
        spreads.append(float(est.std()))
        assert abs(float(est.mean() - exact)) < 4 * spreads[-1] / 48**0.5 + 1e-3
    assert spreads[1] < 0.5 * spreads[0]
    assert abs(float(exact - analytic)) < 1e-2


def test_probes_are_seeded():
    a = draw_probes((3, 5), 2, "rademacher", torch.Generator().manual_seed(0), torch.float32, torch.device("cpu"))
    b = draw_probes((3, 5), 2, "rademacher", torch.Generator().manual_seed(0), torch.float32, torch.device("cpu"))
    assert torch.equal(a, b) and set(a.unique().tolist()) == {-1.0, 1.0}
