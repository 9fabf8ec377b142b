"""Forward processes in one σ-parameterisation (Karras et al. 2022, eq. 10 / Table 1):

    x_t = s(t) · (x0 + σ(t) · ε),     ε ~ N(0, I).

Every sampler in :mod:`sciffusion.common.samplers` works on x̂ = x_t / s(t) = x0 + σ ε, indexed by σ
alone; the denoiser adapters (:mod:`sciffusion.common.denoisers`) use a process to map σ back to the
network's own time and input scale. ``t`` is the process's native time: continuous in [t_min, t_max]
for the SDEs, the integer timestep index (0-based) for :class:`DiscreteProcess`.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sciffusion.common.processes.schedules import (
    BetaScheduleName,
    alpha_bar_to_sigma,
    beta_schedule,
    rescale_zero_terminal_snr,
)


def _as_tensor(v: Tensor | float) -> Tensor:
    return v if isinstance(v, Tensor) else torch.as_tensor(v, dtype=torch.float64)


class ForwardProcess(ABC):
    """x_t = s(t)(x0 + σ(t) ε). Subclasses give σ(t), s(t) and the inverse t(σ)."""

    @abstractmethod
    def sigma(self, t: Tensor | float) -> Tensor:
        """Noise level σ(t) in data units."""

    @abstractmethod
    def scale(self, t: Tensor | float) -> Tensor:
        """Signal scale s(t)."""

    @abstractmethod
    def t_of_sigma(self, sigma: Tensor | float) -> Tensor:
        """Inverse of σ(t)."""

    @property
    @abstractmethod
    def sigma_min(self) -> float:
        """Smallest σ the process reaches (at t_min)."""

    @property
    @abstractmethod
    def sigma_max(self) -> float:
        """Largest σ the process reaches (at t_max)."""

    def scale_of_sigma(self, sigma: Tensor | float) -> Tensor:
        """s(t(σ))."""
        return self.scale(self.t_of_sigma(sigma))

    def alpha(self, t: Tensor | float) -> Tensor:
        """Coefficient of x0 in x_t: α(t) = s(t)."""
        return self.scale(t)

    def noise_std(self, t: Tensor | float) -> Tensor:
        """Coefficient of ε in x_t: s(t) σ(t)."""
        return self.scale(t) * self.sigma(t)

    def log_snr(self, t: Tensor | float) -> Tensor:
        """λ(t) = −2 log σ(t)."""
        return -2.0 * torch.log(self.sigma(t))

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = s(t)(x0 + σ(t) ε); ``t`` is ``[B]``, broadcast over the trailing dims of ``x0``."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        s = self.scale(t).to(x0.dtype).reshape(shape)
        sig = self.sigma(t).to(x0.dtype).reshape(shape)
        return s * (x0 + sig * noise)


@dataclass(frozen=True)
class VPProcess(ForwardProcess):
    """Variance-preserving SDE (Song et al. 2021), linear β(t) on t ∈ [t_min, 1].

    ᾱ(t) = exp(−½ t² (β_max − β_min) − t β_min); s = sqrt(ᾱ); σ = sqrt(1/ᾱ − 1).
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    t_min: float = 1e-5
    t_max: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.beta_min < self.beta_max:
            raise ValueError(f"VP betas: need 0 <= beta_min < beta_max, got ({self.beta_min}, {self.beta_max})")

    def _log_alpha_bar(self, t: Tensor) -> Tensor:
        return -0.5 * t**2 * (self.beta_max - self.beta_min) - t * self.beta_min

    def sigma(self, t):
        return torch.sqrt(torch.expm1(-self._log_alpha_bar(_as_tensor(t))))

    def scale(self, t):
        return torch.exp(0.5 * self._log_alpha_bar(_as_tensor(t)))

    def t_of_sigma(self, sigma):
        # solve ½ d t² + β_min t − log(1 + σ²) = 0 for t ≥ 0
        c = torch.log1p(_as_tensor(sigma) ** 2)
        d = self.beta_max - self.beta_min
        return (-self.beta_min + torch.sqrt(self.beta_min**2 + 2 * d * c)) / d

    @property
    def sigma_min(self):
        return float(self.sigma(self.t_min))

    @property
    def sigma_max(self):
        return float(self.sigma(self.t_max))


@dataclass(frozen=True)
class SubVPProcess(VPProcess):
    """sub-VP SDE (Song et al. 2021, eq. 29): mean sqrt(ᾱ) x0, std (1 − ᾱ).

    s = sqrt(ᾱ), σ = (1 − ᾱ)/sqrt(ᾱ).
    """

    def sigma(self, t):
        la = self._log_alpha_bar(_as_tensor(t))
        return -torch.expm1(la) * torch.exp(-0.5 * la)

    def t_of_sigma(self, sigma):
        # with a = sqrt(ᾱ): σ a = 1 − a²  ⇒  a = (−σ + sqrt(σ² + 4)) / 2, then invert ᾱ(t)
        sigma = _as_tensor(sigma)
        a = 2.0 / (sigma + torch.sqrt(sigma**2 + 4))
        c = -2.0 * torch.log(a)  # = −log ᾱ
        d = self.beta_max - self.beta_min
        return (-self.beta_min + torch.sqrt(self.beta_min**2 + 2 * d * c)) / d


class _UnscaledProcess(ForwardProcess):
    """Shared by processes with s(t) = 1 and a σ range given as ``sigma_lo``/``sigma_hi`` (VE, EDM)."""

    sigma_lo: float
    sigma_hi: float

    def scale(self, t):
        return torch.ones_like(_as_tensor(t))

    @property
    def sigma_min(self):
        return self.sigma_lo

    @property
    def sigma_max(self):
        return self.sigma_hi


@dataclass(frozen=True)
class VEProcess(_UnscaledProcess):
    """Variance-exploding SDE (Song et al. 2021): σ(t) = σ_min (σ_max/σ_min)^t on t ∈ [0, 1], s = 1."""

    sigma_lo: float = 0.01
    sigma_hi: float = 50.0

    def __post_init__(self) -> None:
        if not 0 < self.sigma_lo < self.sigma_hi:
            raise ValueError(f"VE sigma range: need 0 < min < max, got ({self.sigma_lo}, {self.sigma_hi})")

    def sigma(self, t):
        return self.sigma_lo * (self.sigma_hi / self.sigma_lo) ** _as_tensor(t)

    def t_of_sigma(self, sigma):
        return torch.log(_as_tensor(sigma) / self.sigma_lo) / math.log(self.sigma_hi / self.sigma_lo)


@dataclass(frozen=True)
class EDMProcess(_UnscaledProcess):
    """EDM (Karras et al. 2022): σ(t) = t, s = 1, σ ∈ [σ_min, σ_max], data std σ_data."""

    sigma_lo: float = 0.002
    sigma_hi: float = 80.0
    sigma_data: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.sigma_lo < self.sigma_hi:
            raise ValueError(f"EDM sigma range: need 0 < min < max, got ({self.sigma_lo}, {self.sigma_hi})")
        if self.sigma_data <= 0:
            raise ValueError(f"sigma_data: must be > 0, got {self.sigma_data}")

    def sigma(self, t):
        return _as_tensor(t).clone()

    def t_of_sigma(self, sigma):
        return _as_tensor(sigma).clone()


TERMINAL_ALPHA_BAR = 2.0**-24
"""ᾱ used in place of an exact 0 (zero terminal SNR) when a finite σ is needed (as diffusers does)."""


@dataclass(frozen=True)
class DiscreteProcess(ForwardProcess):
    """Discrete DDPM process over integer timesteps t = 0..T−1 from a β schedule.

    ᾱ_t = Π_{i≤t}(1 − β_i); s = sqrt(ᾱ); σ = sqrt((1 − ᾱ)/ᾱ). ``t_of_sigma`` interpolates t linearly
    in log σ between the table entries (as k-diffusion's ``DiscreteSchedule``), so a continuous σ grid
    maps to fractional timesteps; round them only if the network needs integers.
    """

    schedule: BetaScheduleName = "linear"
    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    zero_terminal_snr: bool = False
    betas: Tensor = field(init=False, repr=False, compare=False)
    alphas_bar: Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        betas = beta_schedule(self.schedule, self.num_timesteps, self.beta_start, self.beta_end)
        if self.zero_terminal_snr:
            betas = rescale_zero_terminal_snr(betas)
        alphas_bar = torch.cumprod(1 - betas, 0)
        if self.zero_terminal_snr:
            alphas_bar[-1] = TERMINAL_ALPHA_BAR
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "alphas_bar", alphas_bar)

    @classmethod
    def from_betas(cls, betas: Tensor) -> "DiscreteProcess":
        """A process from an explicit β table (e.g. a trained model's)."""
        proc = cls(num_timesteps=len(betas))
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if (betas <= 0).any() or (betas > 1).any():
            raise ValueError("betas: every β must lie in (0, 1]")
        object.__setattr__(proc, "betas", betas)
        object.__setattr__(proc, "alphas_bar", torch.cumprod(1 - betas, 0).clamp(min=TERMINAL_ALPHA_BAR))
        return proc

    @property
    def table_sigmas(self) -> Tensor:
        """σ_t for t = 0..T−1, float64 ``[T]``, increasing."""
        return alpha_bar_to_sigma(self.alphas_bar)

    def _interp(self, table: Tensor, t: Tensor) -> Tensor:
        t = _as_tensor(t).to(torch.float64).clamp(0, self.num_timesteps - 1)
        lo = t.floor().long()
        hi = (lo + 1).clamp(max=self.num_timesteps - 1)
        w = t - lo
        return table[lo] * (1 - w) + table[hi] * w

    def sigma(self, t):
        log_sigmas = self.table_sigmas.log()
        return self._interp(log_sigmas, t).exp()

    def scale(self, t):
        return 1.0 / torch.sqrt(1 + self.sigma(t) ** 2)

    def t_of_sigma(self, sigma):
        log_sigmas = self.table_sigmas.log()
        ls = _as_tensor(sigma).to(torch.float64).log()
        idx = torch.searchsorted(log_sigmas, ls.reshape(-1)).clamp(1, self.num_timesteps - 1)
        lo, hi = log_sigmas[idx - 1], log_sigmas[idx]
        w = ((ls.reshape(-1) - lo) / (hi - lo)).clamp(0, 1)
        return ((idx - 1).to(torch.float64) + w).reshape(ls.shape)

    @property
    def sigma_min(self):
        return float(self.table_sigmas[0])

    @property
    def sigma_max(self):
        return float(self.table_sigmas[-1])
