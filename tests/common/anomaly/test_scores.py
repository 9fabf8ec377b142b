"""Scores on the exact Gaussian denoiser: closed forms, far points score higher, the mean scores lowest."""
import math

import pytest
import torch

from sciffusion.common.analytic import Gaussian
from sciffusion.common.anomaly import ScoreConfig, compute_scores, msma, noise_levels, path_statistics, reconstruction
from sciffusion.common.anomaly.likelihood_scores import compressed_bits, complexity_corrected, nll
from sciffusion.common.likelihood import LikelihoodConfig

S = 0.5  # data std
D = 4


def _gaussian():
    return Gaussian(torch.zeros(D), S**2 * torch.eye(D))


def _inputs():
    g = torch.Generator().manual_seed(0)
    typical = _gaussian().sample(64, g)
    far = torch.full((1, D), 3.0, dtype=torch.float64)  # 6 stds along each axis
    centre = torch.zeros(1, D, dtype=torch.float64)
    return torch.cat([typical, far, centre])


def test_msma_matches_the_closed_form_score_norm():
    x = _inputs()
    sigmas = noise_levels(5, 0.01, 1.0).double()
    out = msma(_gaussian().denoise, x, sigmas)
    expected = x.norm(dim=1, keepdim=True) / (S**2 + sigmas[None] ** 2)  # ‖−x/(s² + σ²)‖
    assert torch.allclose(out.features, expected, rtol=1e-10)
    assert out.nfe == 5 and out.map.shape == x.shape and out.features.shape == (len(x), 5)


@pytest.mark.parametrize("kind", ["msma", "recon", "path", "combined", "nll", "complexity"])
def test_far_point_scores_higher_and_the_mean_lowest(kind):
    x = _inputs()
    out = compute_scores(_gaussian().denoise, x, ScoreConfig(kind=kind, levels=6), generator=torch.Generator().manual_seed(1))
    typical, far, centre = out.score[:-2], out.score[-2], out.score[-1]
    assert far > typical.max()
    assert centre < typical.median()  # negative control: the most likely point is not anomalous
    assert out.nfe == ScoreConfig(kind=kind, levels=6).nfe


def test_reconstruction_one_step_closed_form():
    x = _inputs()
    sigma = torch.tensor([0.5], dtype=torch.float64)
    out = reconstruction(_gaussian().denoise, x, sigma, generator=torch.Generator().manual_seed(3))
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    s2, v = S**2, 0.25
    expected = ((-v * x + 0.5 * s2 * eps) / (s2 + v)).pow(2).mean(1)  # D(x + σε) − x for the linear denoiser
    assert torch.allclose(out.features[:, 0], expected, rtol=1e-10)
    assert out.nfe == 1
    assert reconstruction(_gaussian().denoise, x, sigma, steps=4).nfe == 4


def test_path_statistics_shapes_and_scale():
    x = _inputs()
    out = path_statistics(_gaussian().denoise, x, noise_levels(4, 0.01, 1.0).double())
    assert out.features.shape == (len(x), 7) and out.nfe == 4
    # first level: ε̂ = (x − D)/σ = x σ / (s² + σ²) exactly
    assert torch.allclose(out.features[:, 0], (x * 0.01 / (S**2 + 0.01**2)).pow(2).mean(1).sqrt(), rtol=1e-8)


def test_nll_matches_the_gaussian_log_density():
    x = _inputs()[:8]
    cfg = LikelihoodConfig(sigma_min=1e-3, sigma_max=80.0, prior="marginal", sigma_data=S, data_scale=None,
                           rtol=1e-7, atol=1e-7)
    out = nll(_gaussian().denoise, x, cfg)
    exact = torch.distributions.Normal(0.0, math.sqrt(S**2 + 1e-6)).log_prob(x).sum(1)
    assert torch.allclose(out.score * D * math.log(2), -exact, atol=1e-4)


def test_complexity_correction():
    flat = torch.zeros(2, 256)
    noisy = torch.rand(2, 256, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert (compressed_bits(flat) < compressed_bits(noisy) / 5).all()
    x = _inputs()[:4]
    cfg = LikelihoodConfig(sigma_min=1e-3, data_scale=None)
    out = complexity_corrected(_gaussian().denoise, x, cfg)
    assert torch.allclose(out.score, out.features[:, 0] - compressed_bits(x) / D)


def test_batched_equals_one_at_a_time_and_errors():
    x = _inputs()
    cfg = ScoreConfig(kind="msma", levels=3)
    whole = compute_scores(_gaussian().denoise, x, cfg).features
    single = torch.cat([compute_scores(_gaussian().denoise, x[i:i + 1], cfg).features for i in range(len(x))])
    assert torch.allclose(whole, single)
    with pytest.raises(ValueError, match="increase"):
        msma(_gaussian().denoise, x, torch.tensor([1.0, 0.5]))
    with pytest.raises(ValueError, match="levels"):
        ScoreConfig(kind="combined", levels=1)
