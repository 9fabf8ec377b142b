"""σ grids as data: 1-D tensors of length ``steps + 1``, strictly decreasing, last entry exactly 0.

Every builder returns a grid that passes :func:`check_grid`. A sampler steps from ``sigmas[i]`` to
``sigmas[i+1]``; the final step (to σ = 0) returns the denoised estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from sciffusion.common.processes.forward import DiscreteProcess, ForwardProcess

TimestepSpacing = Literal["leading", "trailing", "linspace"]


def check_grid(sigmas: Tensor) -> Tensor:
    """Validate a σ grid and return it unchanged.

    Raises ``ValueError`` unless ``sigmas`` is 1-D, has at least 2 entries, is finite, strictly
    decreasing (so no duplicates) and ends in exactly 0 with every other entry > 0.
    """
    if not isinstance(sigmas, Tensor) or sigmas.dim() != 1:
        raise ValueError("sigmas: must be a 1-D tensor")
    if len(sigmas) < 2:
        raise ValueError(f"sigmas: need at least 2 entries (1 step), got {len(sigmas)}")
    if not torch.isfinite(sigmas).all():
        raise ValueError("sigmas: contains inf or nan")
    if sigmas[-1] != 0:
        raise ValueError(f"sigmas: last entry must be exactly 0, got {float(sigmas[-1])}")
    if (sigmas[:-1] <= 0).any():
        raise ValueError("sigmas: every entry before the last must be > 0")
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError("sigmas: must be strictly decreasing (no duplicates)")
    return sigmas


def _with_zero(sigmas: Tensor) -> Tensor:
    return check_grid(torch.cat([sigmas, sigmas.new_zeros(1)]))


def check_sigma_range(sigma_min: float, sigma_max: float) -> None:
    """Raise ``ValueError`` unless 0 < σ_min < σ_max (data units)."""
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"sigma range: need 0 < min < max, got ({sigma_min}, {sigma_max})")


def _check_range(steps: int, sigma_min: float, sigma_max: float) -> None:
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    check_sigma_range(sigma_min, sigma_max)


def karras_grid(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
                dtype: torch.dtype = torch.float32) -> Tensor:
    """Karras et al. (2022) eq. 5: σ_i = (σ_max^{1/ρ} + i/(n−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, then 0.

    Computed like k-diffusion's ``get_sigmas_karras`` (same ramp, same dtype order) so grids agree
    bit for bit. With ``steps == 1`` the grid is [σ_max, 0].
    """
    _check_range(steps, sigma_min, sigma_max)
    if rho <= 0:
        raise ValueError(f"rho: must be > 0, got {rho}")
    ramp = torch.linspace(0, 1, steps) if steps > 1 else torch.zeros(1)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _with_zero(((hi + ramp * (lo - hi)) ** rho).to(dtype))


def log_linear_grid(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """σ log-uniform from σ_max to σ_min (uniform in log-SNR), then 0."""
    _check_range(steps, sigma_min, sigma_max)
    if steps == 1:
        return _with_zero(torch.tensor([sigma_max], dtype=dtype))
    return _with_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), steps, dtype=torch.float64)
                      .exp().to(dtype))


def uniform_time_grid(process: ForwardProcess, steps: int, t_start: float | None = None,
                      t_end: float | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """σ(t) at t uniform from ``t_start`` (default the process's t_max) down to ``t_end``
    (default its t_min): the classic VP/VE SDE discretisation (Song et al. 2021), then 0."""
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    t_hi = float(process.t_of_sigma(process.sigma_max)) if t_start is None else t_start
    t_lo = float(process.t_of_sigma(process.sigma_min)) if t_end is None else t_end
    if not t_lo < t_hi:
        raise ValueError(f"time range: need t_end < t_start, got ({t_lo}, {t_hi})")
    ts = torch.linspace(t_hi, t_lo, steps, dtype=torch.float64) if steps > 1 else torch.tensor([t_hi], dtype=torch.float64)
    return _with_zero(process.sigma(ts).to(dtype))


def discrete_timesteps(num_train_timesteps: int, steps: int, spacing: TimestepSpacing = "leading",
                       steps_offset: int = 0) -> Tensor:
    """Integer timesteps, decreasing, as the diffusers schedulers space them (``[steps]``, int64).

    - ``leading``:  t = arange(0, steps) · (T // steps), reversed, + offset (DDIM paper / SD).
    - ``trailing``: t = round(arange(T, 0, −T/steps)) − 1 (Lin et al. 2024: always includes T−1).
    - ``linspace``: t = round(linspace(0, T−1, steps)), reversed (a single step starts at T−1).
    """
    if not 1 <= steps <= num_train_timesteps:
        raise ValueError(f"steps: must be in [1, {num_train_timesteps}], got {steps}")
    T = num_train_timesteps
    if spacing == "leading":
        ts = torch.arange(0, steps, dtype=torch.int64) * (T // steps)
        ts = (ts + steps_offset).clamp(max=T - 1).flip(0)
    elif spacing == "trailing":
        ts = torch.round(torch.arange(T, 0, -T / steps, dtype=torch.float64)).long() - 1
    elif spacing == "linspace":
        ts = torch.round(torch.linspace(0, T - 1, steps, dtype=torch.float64)).long().flip(0)
        if steps == 1:
            ts = torch.tensor([T - 1])
    else:
        raise ValueError(f"spacing: unknown {spacing!r} (choose leading, trailing, linspace)")
    return ts


def discrete_grid(process: DiscreteProcess, steps: int, spacing: TimestepSpacing = "leading",
                  steps_offset: int = 0, dtype: torch.dtype = torch.float32) -> Tensor:
    """σ at the timesteps of :func:`discrete_timesteps` (σ read from the process's table), then 0.
    Spacings that repeat a timestep (leading with an offset that clamps) are rejected by the check."""
    ts = discrete_timesteps(process.num_timesteps, steps, spacing, steps_offset)
    return _with_zero(process.table_sigmas[ts].to(dtype))


@dataclass(frozen=True)
class GridConfig:
    """A named σ grid; ``build()`` returns the tensor. Discrete spacings need a process."""

    kind: Literal["karras", "log_linear"] = "karras"
    steps: int = 18
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0

    def __post_init__(self) -> None:
        _check_range(self.steps, self.sigma_min, self.sigma_max)
        if self.kind not in ("karras", "log_linear"):
            raise ValueError(f"grid kind: unknown {self.kind!r} (choose karras, log_linear)")

    def build(self, dtype: torch.dtype = torch.float32) -> Tensor:
        if self.kind == "karras":
            return karras_grid(self.steps, self.sigma_min, self.sigma_max, self.rho, dtype)
        return log_linear_grid(self.steps, self.sigma_min, self.sigma_max, dtype)
