"""Low-temperature sampling on a product process: a score transform that every product sampler runs.

For component k with temperature T_k > 0 and data scale σ_d,k (data units; radians on SO(3) and tori)
the score is multiplied by

    λ_k(σ) = (σ_d,k² + σ²) / (T_k σ_d,k² + σ²),        σ = σ_k(t), noise left unchanged.

Why this λ: for Gaussian data N(μ, σ_d² I) on ℝⁿ the marginal at noise σ is N(μ, (σ_d² + σ²) I) with
score −(x − μ)/(σ_d² + σ²); λ times it is −(x − μ)/(T σ_d² + σ²), the exact score of the tempered data
p_data^{1/T} = N(μ, T σ_d² I) diffused to σ. So any sampler that is exact for a given score (the
reverse SDE, the PF-ODE) run with λ·score draws from p_data^{1/T} ⊛ N(0, σ_min²) at t = 0, i.e.
variance T σ_d² + σ_min² per coordinate, when started from the tempered t = 1 marginal (≈ the prior
when σ_max ≫ σ_d). λ → 1 as σ → ∞ and λ → 1/T as σ → 0. On SO(3) and tori the same λ is the
small-noise (locally Gaussian) approximation: exact in the limit σ_d, σ ≪ π. This is the idea of
DiffDock's low-temperature sampling (Corso et al. 2023, App. A.4, after Ingraham et al. 2023), written
as the exact Gaussian tempering; DiffDock's own λ and extra noise ψ differ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from torch import Tensor

from sciffusion.common.manifolds.product import ProductProcess, ScoreFn, State, Tangents


@dataclass(frozen=True)
class LowTemperature:
    """Per-component temperatures T_k > 0 (1 = unchanged, < 1 = sharper) and data scales σ_d,k > 0
    (data units / radians); components not named keep their score."""

    temperature: Mapping[str, float]
    sigma_data: Mapping[str, float]

    def __post_init__(self) -> None:
        if set(self.temperature) != set(self.sigma_data):
            raise ValueError(f"low temperature: temperature names {sorted(self.temperature)} != "
                             f"sigma_data names {sorted(self.sigma_data)}")
        for k, v in self.temperature.items():
            if not v > 0:
                raise ValueError(f"temperature[{k!r}]: must be > 0, got {v}")
        for k, v in self.sigma_data.items():
            if not v > 0:
                raise ValueError(f"sigma_data[{k!r}]: must be > 0, got {v}")

    def factor(self, name: str, sigma: Tensor) -> Tensor:
        """λ_k(σ) = (σ_d² + σ²) / (T σ_d² + σ²), σ's shape (module docstring)."""
        sd2, temp = self.sigma_data[name] ** 2, self.temperature[name]
        return (sd2 + sigma**2) / (temp * sd2 + sigma**2)


def low_temperature(process: ProductProcess, score_fn: ScoreFn, config: LowTemperature) -> ScoreFn:
    """``score_fn`` with each named component's score multiplied by λ_k(σ_k(t)) per row (per sample
    for dense parts, through the index for ragged ones)."""
    unknown = set(config.temperature) - set(process.components)
    if unknown:
        raise ValueError(f"low temperature: unknown components {sorted(unknown)}")

    def tempered(state: State, t: Tensor) -> Tangents:
        scores = dict(score_fn(state, t))
        sigmas = process.row_sigmas(state, t)
        for k in config.temperature:
            lam = config.factor(k, sigmas[k]).to(device=scores[k].device, dtype=scores[k].dtype)
            scores[k] = scores[k] * lam.reshape(lam.shape + (1,) * (scores[k].dim() - 1))
        return scores

    return tempered


__all__ = ["LowTemperature", "low_temperature"]
