"""Denoising score matching on a product process, per-component weights, ragged parts without padding.

For component k, a sample x0 and per-sample time t (σ = σ_k(t)), ``process.perturb`` gives x_t and the
conditional score target ∇ log p(x_t | x0). With predicted tangents ŝ the component loss is

    L_k = mean over rows of  λ_k(σ) · mean over the row's coordinates of (ŝ − target)²,

    λ_k(σ) = d_k / score_norm_k(σ)²,   score_norm_k = sqrt(E‖target‖²) over one row's d_k coordinates:

ℝⁿ: score_norm = 1/σ per coordinate, d = 1, so λ = σ²;  SO(3): the IGSO(3) norm of the 3-vector
(≈ √3/σ for small σ), d = 3, so λ = 3/score_norm²;  torus: the wrapped-normal norm per angle, d = 1,
λ = 1/score_norm². So predicting zero has expected loss 1 in every component at every σ (DiffDock's
weighting, Corso et al. 2023; its rotation term is this one divided by 3). The minimiser of
E[L_k] is the marginal score ∇ log p_t (Vincent 2011), whatever λ.

Rows: a dense part has one row per sample. A ragged part (rows of varying number per sample) is
averaged with ``ragged_mean``: ``"sample"`` — the mean over each sample's rows, then over the samples
that have rows (every such sample weighs the same, whatever its m); ``"row"`` — the mean over all
rows of the batch (a sample with more rows weighs more; DiffDock's torsion loss). Samples with no rows
add nothing; a batch without any rows gives L_k = 0. The total is Σ_k c_k L_k with ``weights`` c_k.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import torch
from torch import Tensor

from sciffusion.common.manifolds.product import SO3, Component, Part, ProductProcess, Tangents
from sciffusion.common.manifolds.ragged import Ragged

RaggedMean = Literal["sample", "row"]
RAGGED_MEANS: tuple[str, ...] = ("sample", "row")


@dataclass(frozen=True)
class ProductLossConfig:
    """Component weights c_k (names not given weigh 1) and how ragged parts are averaged (module docstring)."""

    weights: Mapping[str, float] = field(default_factory=dict)
    ragged_mean: RaggedMean = "sample"

    def __post_init__(self) -> None:
        for k, w in self.weights.items():
            if not w >= 0:
                raise ValueError(f"weights[{k!r}]: must be >= 0, got {w}")
        if self.ragged_mean not in RAGGED_MEANS:
            raise ValueError(f"ragged_mean: must be one of {', '.join(RAGGED_MEANS)}, got {self.ragged_mean!r}")

    def weight(self, name: str) -> float:
        return float(self.weights.get(name, 1.0))

    def to_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "ragged_mean": self.ragged_mean}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ProductLossConfig":
        unknown = set(d) - {"weights", "ragged_mean"}
        if unknown:
            raise ValueError(f"product loss config: unknown keys {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class ProductLoss:
    """``total`` = Σ_k c_k L_k (scalar) and the unweighted component losses L_k (scalars)."""

    total: Tensor
    components: dict[str, Tensor]


def score_weight(component: Component, sigma: Tensor) -> Tensor:
    """λ_k(σ) = d_k / score_norm_k(σ)² (module docstring), σ's shape, float64."""
    dims = 3 if isinstance(component, SO3) else 1
    return dims / component.score_norm(sigma.double()) ** 2


def _row_mean(part: Part, per_row: Tensor, ragged_mean: RaggedMean) -> Tensor:
    if not isinstance(part, Ragged):
        return per_row.mean()
    if len(per_row) == 0:
        return per_row.sum()  # 0, still attached to the graph
    if ragged_mean == "row":
        return per_row.mean()
    has_rows = part.counts() > 0
    return part.mean_per_sample(per_row)[has_rows].mean()


def product_score_loss(process: ProductProcess, predicted: Tangents, targets: Tangents,
                       noisy: Mapping[str, Part], t: Tensor, config: ProductLossConfig = ProductLossConfig()
                       ) -> ProductLoss:
    """The weighted DSM loss of ``predicted`` scores against ``targets`` (both tangents of ``noisy``,
    the state from ``process.perturb`` at per-sample times ``t`` [B]); see the module docstring."""
    process.check_tangents(noisy, predicted)
    process.check_tangents(noisy, targets)
    sigmas = process.row_sigmas(noisy, t)
    parts, total = {}, None
    for k, comp in process.components.items():
        err = (predicted[k] - targets[k]) ** 2
        per_row = err.reshape(len(err), -1).mean(1) if err.dim() > 1 else err
        lam = score_weight(comp, sigmas[k]).to(device=per_row.device, dtype=per_row.dtype)
        parts[k] = _row_mean(noisy[k], lam * per_row, config.ragged_mean)
        term = config.weight(k) * parts[k]
        total = term if total is None else total + term
    return ProductLoss(total, parts)


__all__ = ["ProductLoss", "ProductLossConfig", "RAGGED_MEANS", "RaggedMean", "product_score_loss", "score_weight"]
