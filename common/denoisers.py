"""The denoiser contract and adapters from ε-, x0-, v- and score-predicting networks.

A **denoiser** maps a noisy sample in σ-space, x̂ = x0 + σ ε (``[B, ...]``), and its noise level σ
(``[B]``, data units) to the posterior-mean estimate of x0, same shape as x̂::

    D(x̂, σ, cond=None) -> x0_hat

Samplers (:mod:`sciffusion.common.samplers`) only ever call ``denoise(x, sigma)``; they never branch
on what the network predicts. A network has the signature ``net(x_t, t, cond) -> Tensor`` where
``x_t = s(t) · x̂`` is the process's own scaling and ``t`` its own time (see
:class:`~sciffusion.common.processes.forward.ForwardProcess`); the adapters below do the conversions,
following k-diffusion's ``external.py`` and Karras et al. (2022), Table 1.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn

from sciffusion.common.processes.forward import ForwardProcess

Network = Callable[[Tensor, Tensor, Any], Tensor]
"""``net(x_t [B, ...], t [B], cond) -> output [B, ...]``."""

DenoiseFn = Callable[[Tensor, Tensor], Tensor]
"""The sampler signature: ``denoise(x [B, ...], sigma [B]) -> x0 estimate [B, ...]`` (a
:class:`Denoiser` with its condition bound, see :func:`bind_condition`)."""


class Denoiser(Protocol):
    """``D(x [B, ...], sigma [B], cond=None) -> x0 estimate [B, ...]`` (σ-space, data units)."""

    def __call__(self, x: Tensor, sigma: Tensor, cond: Any = None) -> Tensor: ...


def expand_sigma(sigma: Tensor | float, x: Tensor) -> Tensor:
    """σ as a ``[B]`` tensor on x's device/dtype (a scalar is broadcast over the batch)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.dim() == 0:
        sigma = sigma.expand(x.shape[0])
    return sigma


def per_sample(v: Tensor, x: Tensor) -> Tensor:
    """Reshape ``[B]`` to ``[B, 1, ..., 1]`` to broadcast against ``x``."""
    return v.reshape((-1,) + (1,) * (x.dim() - 1))


class _ProcessAdapter(nn.Module):
    """Shared plumbing: σ → (t, s), x̂ → x_t = s · x̂, then ``convert`` the network output to x0."""

    def __init__(self, net: Network, process: ForwardProcess):
        super().__init__()
        self.net = net
        self.process = process

    def network_inputs(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        sigma = expand_sigma(sigma, x)
        t = self.process.t_of_sigma(sigma.double()).to(x.dtype)
        s = self.process.scale(t.double()).to(x.dtype)
        return per_sample(s, x) * x, t, sigma

    def forward(self, x: Tensor, sigma: Tensor, cond: Any = None) -> Tensor:
        x_t, t, sigma = self.network_inputs(x, sigma)
        out = self.net(x_t, t, cond)
        return self.convert(out, x, per_sample(sigma, x), x_t, t)

    def convert(self, out: Tensor, x: Tensor, sigma: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError


class EpsDenoiser(_ProcessAdapter):
    """ε-prediction: x0 = x̂ − σ ε̂."""

    def convert(self, out, x, sigma, x_t, t):
        return x - sigma * out


class X0Denoiser(_ProcessAdapter):
    """x0-prediction: the network already outputs x0."""

    def convert(self, out, x, sigma, x_t, t):
        return out


class VDenoiser(_ProcessAdapter):
    """v-prediction (Salimans & Ho 2022): v = α ε − σ_t x0 with x_t = α x0 + σ_t ε, α = s, σ_t = s σ.

    x0 = (α x_t − σ_t v) / (α² + σ_t²), which is α x_t − σ_t v for variance-preserving processes.
    """

    def convert(self, out, x, sigma, x_t, t):
        alpha = per_sample(self.process.scale(t.double()).to(x.dtype), x)
        std = alpha * sigma
        return (alpha * x_t - std * out) / (alpha**2 + std**2)


class ScoreDenoiser(_ProcessAdapter):
    """Score-prediction: the network gives ∇_{x_t} log p_t(x_t). Since x̂ = x_t / s,
    ∇_x̂ log p(x̂) = s · score, and Tweedie's formula gives x0 = x̂ + σ² ∇_x̂ log p(x̂)."""

    def convert(self, out, x, sigma, x_t, t):
        s = per_sample(self.process.scale(t.double()).to(x.dtype), x)
        return x + sigma**2 * s * out


def noise_conditioning(sigma: Tensor) -> Tensor:
    """c_noise(σ) = ln(σ) / 4 (Karras et al. 2022, Table 1): the network's noise input for σ ``[B]``."""
    return torch.log(sigma) / 4


def edm_coefficients(sigma: Tensor, sigma_data: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """EDM preconditioning (Karras et al. 2022, Table 1) for σ ``[B]`` and σ_d = ``sigma_data`` (data
    units): (c_skip, c_out, c_in, c_noise), each ``[B]``, with c_skip = σ_d² / (σ² + σ_d²),
    c_out = σ σ_d / sqrt(σ² + σ_d²), c_in = 1 / sqrt(σ² + σ_d²), c_noise = ln(σ) / 4."""
    sd2 = sigma_data**2
    root = torch.sqrt(sigma**2 + sd2)
    return sd2 / (sigma**2 + sd2), sigma * sigma_data / root, 1 / root, noise_conditioning(sigma)


def precondition(net: Network, x: Tensor, coefficients: tuple[Tensor, Tensor, Tensor, Tensor],
                 cond: Any = None) -> Tensor:
    """D(x, σ) = c_skip x + c_out F(c_in x, c_noise, cond) (Karras et al. 2022, eq. 7), with
    ``coefficients`` (c_skip, c_out, c_in, c_noise) each ``[B]`` for x ``[B, ...]``."""
    c_skip, c_out, c_in, c_noise = coefficients
    return per_sample(c_skip, x) * x + per_sample(c_out, x) * net(per_sample(c_in, x) * x, c_noise, cond)


class EDMPrecond(nn.Module):
    """EDM preconditioning (Karras et al. 2022, Table 1 / eq. 7), for s(t) = 1 processes:
    D(x, σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x, c_noise(σ), cond), coefficients from
    :func:`edm_coefficients`."""

    def __init__(self, net: Network, sigma_data: float = 0.5):
        super().__init__()
        if sigma_data <= 0:
            raise ValueError(f"sigma_data: must be > 0, got {sigma_data}")
        self.net = net
        self.sigma_data = sigma_data

    def coefficients(self, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(c_skip, c_out, c_in, c_noise) for ``sigma`` ``[B]``."""
        return edm_coefficients(sigma, self.sigma_data)

    def forward(self, x: Tensor, sigma: Tensor, cond: Any = None) -> Tensor:
        return precondition(self.net, x, self.coefficients(expand_sigma(sigma, x)), cond)


def bind_condition(denoise: Denoiser, cond: Any) -> DenoiseFn:
    """Fix ``cond`` so the result has the sampler signature ``(x, sigma) -> x0``."""

    def bound(x: Tensor, sigma: Tensor) -> Tensor:
        return denoise(x, sigma, cond)

    return bound


def gaussian_denoiser(data_std: float | Tensor) -> DenoiseFn:
    """Exact denoiser for data ~ N(0, s² I): D(x, σ) = x s² / (s² + σ²). Used by tests and demos."""
    s2 = torch.as_tensor(data_std, dtype=torch.float64) ** 2

    def denoise(x: Tensor, sigma: Tensor, cond: Any = None) -> Tensor:
        sig = per_sample(expand_sigma(sigma, x), x)
        return x * (s2.to(x.dtype) / (s2.to(x.dtype) + sig**2))

    return denoise


__all__ = ["DenoiseFn", "Denoiser", "EDMPrecond", "EpsDenoiser", "Network", "ScoreDenoiser", "VDenoiser", "X0Denoiser",
           "bind_condition", "edm_coefficients", "expand_sigma", "gaussian_denoiser", "noise_conditioning",
           "per_sample", "precondition"]
