"""Diffusion training losses as one family: an affine preconditioning plus an MSE in network space.

Every parameterisation writes the denoiser as (Karras et al. 2022, eq. 7)

    D(x̂, σ) = c_skip(σ) x̂ + c_out(σ) F(c_in(σ) x̂, c_noise(σ), cond),     x̂ = x0 + σ ε,

and trains F on its own target F* = (x0 − c_skip x̂) / c_out with an unweighted MSE. In x0 terms
that is the weighted loss ‖D − x0‖² / c_out², so the three kinds differ only in the coefficients:

===== ================================ ============== ================== ===========================
kind  c_skip                           c_out          c_in               target F* / x0 weight
===== ================================ ============== ================== ===========================
edm   σ_d² / (σ² + σ_d²)               σσ_d/√(σ²+σ_d²) 1/√(σ² + σ_d²)     λ(σ) = (σ² + σ_d²)/(σσ_d)²
eps   1                                −σ             1/√(σ² + 1)        F* = ε; weight 1/σ²
v     α² = 1/(1 + σ²)                  −σ α           α                  F* = v = α ε − σα x0;
                                                                         weight (1 + σ²)/σ²
===== ================================ ============== ================== ===========================

(v: Salimans & Ho 2022 with the VP pair α = 1/√(1+σ²), σ_t = σα, so x_t = α x̂.) c_noise = ln(σ)/4
for all kinds. The EDM loss with log-normal σ (P_mean −1.2, P_std 1.2) is Karras et al. eq. 8.

Losses are per sample, ``[B]``: the mean over the trailing dims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from sciffusion.common.denoisers import edm_coefficients, expand_sigma, noise_conditioning, per_sample, precondition
from sciffusion.common.grids import check_sigma_range
from sciffusion.common.noise import rand, randn

LossKind = Literal["edm", "eps", "v"]
LOSS_KINDS: tuple[str, ...] = ("edm", "eps", "v")


@dataclass(frozen=True)
class Preconditioning:
    """The coefficients (c_skip, c_out, c_in, c_noise) of one loss kind (module table). ``sigma_data``
    (σ_d, data units) is used by ``edm`` only."""

    kind: LossKind = "edm"
    sigma_data: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in LOSS_KINDS:
            raise ValueError(f"loss kind: must be one of {', '.join(LOSS_KINDS)}, got {self.kind!r}")
        if self.sigma_data <= 0:
            raise ValueError(f"sigma_data: must be > 0, got {self.sigma_data}")

    def coefficients(self, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(c_skip, c_out, c_in, c_noise), each ``[B]`` for ``sigma`` ``[B]``. edm: the core's
        :func:`~sciffusion.common.denoisers.edm_coefficients`, the ones ``EDMPrecond`` uses."""
        if self.kind == "edm":
            return edm_coefficients(sigma, self.sigma_data)
        c_noise = noise_conditioning(sigma)
        alpha = 1 / torch.sqrt(1 + sigma**2)
        if self.kind == "eps":
            return torch.ones_like(sigma), -sigma, alpha, c_noise
        return alpha**2, -sigma * alpha, alpha, c_noise

    def denoise(self, net: nn.Module, x: Tensor, sigma: Tensor | float, cond: Any = None) -> Tensor:
        """D(x, σ) = c_skip x + c_out F(c_in x, c_noise, cond); x ``[B, ...]``, σ ``[B]`` or scalar."""
        return precondition(net, x, self.coefficients(expand_sigma(sigma, x)), cond)

    def loss(self, net: nn.Module, x0: Tensor, sigma: Tensor, noise: Tensor, cond: Any = None,
             weight: Tensor | None = None) -> Tensor:
        """Per-sample ``[B]`` MSE between F and its target F* = (x0 − c_skip x̂)/c_out, x̂ = x0 + σ noise.

        ``weight`` (optional, ≥ 0, broadcastable to x0 with its batch axis, e.g. ``[B, 1, T, H, W]``):
        a per-element weight; the loss is then the weighted mean Σ w e² / Σ w over each sample, so a
        weight of ones gives the plain loss and the loss's scale does not depend on the weights' scale."""
        c_skip, c_out, c_in, c_noise = self.coefficients(sigma)
        x_noisy = x0 + per_sample(sigma, x0) * noise
        out = net(per_sample(c_in, x0) * x_noisy, c_noise, cond)
        target = (x0 - per_sample(c_skip, x0) * x_noisy) / per_sample(c_out, x0)
        err = (out - target) ** 2
        if weight is None:
            return err.reshape(len(x0), -1).mean(1)
        if weight.dim() != x0.dim() or weight.shape[0] != len(x0):
            raise ValueError(f"loss weight: shape {tuple(weight.shape)} does not broadcast to x0 {tuple(x0.shape)} "
                             "with its batch axis")
        w = weight.to(err.dtype).expand_as(err).reshape(len(x0), -1)
        if bool((w < 0).any()) or not bool((w.sum(1) > 0).all()):
            raise ValueError("loss weight: must be >= 0 with a positive sum per sample")
        return (w * err.reshape(len(x0), -1)).sum(1) / w.sum(1)

    def x0_weight(self, sigma: Tensor) -> Tensor:
        """The equivalent weight on ‖D − x0‖²: 1/c_out² (λ(σ) for edm)."""
        return 1 / self.coefficients(sigma)[1] ** 2


def edm_weight(sigma: Tensor, sigma_data: float) -> Tensor:
    """λ(σ) = (σ² + σ_d²) / (σ σ_d)² (Karras et al. 2022, eq. 8 / Table 1)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


@dataclass(frozen=True)
class SigmaDistribution:
    """Training noise levels: ``lognormal`` ln σ ~ N(p_mean, p_std²) (EDM: −1.2, 1.2) or
    ``loguniform`` on [sigma_min, sigma_max] (data units)."""

    kind: Literal["lognormal", "loguniform"] = "lognormal"
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = 0.002
    sigma_max: float = 80.0

    def __post_init__(self) -> None:
        if self.kind not in ("lognormal", "loguniform"):
            raise ValueError(f"sigma distribution: must be 'lognormal' or 'loguniform', got {self.kind!r}")
        if self.p_std <= 0:
            raise ValueError(f"p_std: must be > 0, got {self.p_std}")
        check_sigma_range(self.sigma_min, self.sigma_max)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> Tensor:
        """``[n]`` noise levels drawn with ``generator`` (on the generator's device, then moved to ``device``)."""
        if self.kind == "lognormal":
            z = randn(n, generator=generator, dtype=dtype, device=device)
            return torch.exp(self.p_mean + self.p_std * z)
        u = rand(n, generator=generator, dtype=dtype, device=device)
        lo, hi = math.log(self.sigma_min), math.log(self.sigma_max)
        return torch.exp(lo + (hi - lo) * u)


__all__ = ["LOSS_KINDS", "LossKind", "Preconditioning", "SigmaDistribution", "edm_weight"]
