"""σ ↔ ᾱ ↔ log-SNR conversions."""
import torch

from sciffusion.common.processes import (
    alpha_bar_to_sigma, log_snr_to_sigma, sigma_to_alpha_bar, sigma_to_log_snr,
)


def test_conversions_round_trip_and_agree():
    sigma = torch.logspace(-3, 2, 30, dtype=torch.float64)
    ab = sigma_to_alpha_bar(sigma)
    assert torch.allclose(alpha_bar_to_sigma(ab), sigma, rtol=1e-9)
    lam = sigma_to_log_snr(sigma)
    assert torch.allclose(log_snr_to_sigma(lam), sigma, rtol=1e-12)
    assert torch.allclose(lam, torch.log(ab / (1 - ab)), rtol=1e-9)  # λ = log SNR of the VP form


def test_alpha_bar_zero_is_infinite_sigma():
    assert torch.isinf(alpha_bar_to_sigma(torch.tensor([0.0], dtype=torch.float64))).all()
