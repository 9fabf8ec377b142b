"""Likelihood-based anomaly scores: the PF-ODE negative log-likelihood and its complexity-corrected form.

* **NLL**: −log p_{σ_min}(x) from :func:`~sciffusion.common.likelihood.log_likelihood` (exact trace at
  low dimension, Hutchinson at high dimension), in bits/dim. For a fixed model-call budget use a
  fixed-step method (``method="euler"``, ``step_size`` = ln(σ_max/σ_min) / steps gives ``steps`` calls).
  Each call also takes ``n_probes`` vector–Jacobian products (Hutchinson) or d of them (exact).
* **Complexity-corrected NLL** (Serrà et al. 2020, "Input complexity and out-of-distribution detection
  with likelihood-based generative models"): S(x) = −log₂ p(x) − L(x), the model's code length minus a
  generic compressor's, both in bits. Here L(x) is the zlib (DEFLATE, level 9) length of x quantised to
  8 bits (x ∈ [−1, 1] → round((x + 1) · 127.5)), so simple inputs that every model finds likely are
  not called normal for their simplicity alone.

Features (bits per dimension): ``nll`` = [bpd, prior bits/dim, divergence-integral bits/dim];
``complexity`` adds [compressed bits/dim, S/d] and uses S/d as its scalar.
"""
from __future__ import annotations

import math
import zlib
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from sciffusion.common.anomaly.features import AnomalyScores
from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.likelihood import LikelihoodConfig, log_likelihood


def budget_likelihood_config(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, n_probes: int = 1,
                             trace: str = "hutchinson", data_scale: Optional[float] = 127.5) -> LikelihoodConfig:
    """A fixed-step Euler PF-ODE setting that costs exactly ``steps`` model calls per input (the step is
    widened by 1e-5 so float32 rounding of the ln σ span never adds a last sliver step)."""
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    return LikelihoodConfig(sigma_min=sigma_min, sigma_max=sigma_max, trace=trace, n_probes=n_probes,
                            method="euler", step_size=math.log(sigma_max / sigma_min) / steps * (1 + 1e-5),
                            data_scale=data_scale)


def nll(denoise: DenoiseFn, x: Tensor, config: LikelihoodConfig, *,
        generator: Optional[torch.Generator] = None) -> AnomalyScores:
    """PF-ODE NLL of ``x [B, ...]`` in bits/dim (module docstring); NFE from the ODE solver."""
    result = log_likelihood(denoise, x, config, generator=generator)
    per_dim = result.dim * math.log(2)
    features = torch.stack([result.bpd, -result.prior_log_prob / per_dim, -result.delta / per_dim], 1).double()
    return AnomalyScores(features, ("nll_bpd", "nll_prior_bpd", "nll_divergence_bpd"), result.bpd.double(),
                         result.nfe)


def compressed_bits(x: Tensor, level: int = 9) -> Tensor:
    """zlib code length in bits of each input of ``x [B, ...]`` in [−1, 1], quantised to uint8; ``[B]``."""
    k = ((x.detach().double().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(len(x), -1).cpu().numpy()
    return torch.tensor([8.0 * len(zlib.compress(np.ascontiguousarray(row).tobytes(), level)) for row in k],
                        dtype=torch.float64)


def complexity_corrected(denoise: DenoiseFn, x: Tensor, config: LikelihoodConfig, *,
                         generator: Optional[torch.Generator] = None) -> AnomalyScores:
    """S(x)/d = bpd − L(x)/d (module docstring), with the NLL features before it."""
    base = nll(denoise, x, config, generator=generator)
    dim = x[0].numel()
    length = compressed_bits(x).to(base.features.device) / dim
    corrected = base.score - length
    return AnomalyScores(torch.cat([base.features, length[:, None], corrected[:, None]], 1),
                         base.names + ("compressed_bpd", "complexity_corrected_bpd"), corrected, base.nfe)


__all__ = ["budget_likelihood_config", "complexity_corrected", "compressed_bits", "nll"]
