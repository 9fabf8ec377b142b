"""A pose ranking learned on the training split: a logistic model over the per-pose scores that
:class:`~.physics.PhysicsRanked` already computes (learned confidence, Vina-like terms, agreement with
the other poses of the ligand), fitted to "this pose is within 2 Å of the crystal pose".

Features (:data:`FEATURES`) are turned into rank positions within each ligand's K poses, scaled to
[0, 1] (the ranking only compares poses of one ligand, so a ligand's offset, e.g. a large ligand's more
negative Vina score, carries no information, and a clashing pose's +100 kcal/mol must not dominate the
fit), centred, and divided by a global scale from the training set. The fit is listwise: per training
ligand with at least one pose within 2 Å, the softmax over its K poses of ``w · z`` should put its mass
on those poses (the top-1 choice is what is optimised, not a per-pose probability). The logit ``w · z``
is the ranking confidence (higher = better). The model is a few numbers, saved as JSON
(:meth:`PoseRanker.to_dict`); ``sciffusion docking train-ranker`` fits it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import Tensor

FEATURES = ("model_confidence", "vina_score", "vina_intra", "energy_before_refine", "consensus_fraction",
            "consensus_rmsd")
"""Per-pose properties used: learned confidence logit, normalised Vina-like score and its intramolecular
term (kcal/mol), the refinement objective before refinement (kcal/mol), share of the other poses within
2 Å, mean RMSD to the other poses (Å)."""


@dataclass(frozen=True)
class PoseRanker:
    """``features`` names, their training ``scale`` (sd of the within-ligand centred values), ``weights``
    and ``bias`` of the logistic model on the scaled features."""

    features: tuple[str, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self) -> None:
        if not (len(self.features) == len(self.scale) == len(self.weights)) or not self.features:
            raise ValueError("pose ranker: features, scale and weights must have the same non-zero length")
        if min(self.scale) <= 0:
            raise ValueError("pose ranker: every feature scale must be > 0")

    def logits(self, properties: Mapping[str, Tensor]) -> Tensor:
        """Ranking confidence [K] (float64, higher = better) of one ligand's K poses from their
        ``properties`` {name: [K]}; a missing feature is a one-line error."""
        missing = [f for f in self.features if f not in properties]
        if missing:
            raise ValueError(f"pose ranker: poses lack {', '.join(missing)} (rank=learned needs refined poses "
                             "and a learned confidence)")
        z = centred_features(properties, self.features) / torch.tensor(self.scale, dtype=torch.float64)
        return z @ torch.tensor(self.weights, dtype=torch.float64) + self.bias

    def to_dict(self) -> dict:
        return {"features": list(self.features), "scale": list(self.scale), "weights": list(self.weights),
                "bias": self.bias}

    @classmethod
    def from_dict(cls, data: Mapping) -> "PoseRanker":
        try:
            return cls(tuple(data["features"]), tuple(float(v) for v in data["scale"]),
                       tuple(float(v) for v in data["weights"]), float(data["bias"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"pose ranker: not a ranker file ({exc})") from None


def centred_features(properties: Mapping[str, Tensor], features: Sequence[str]) -> Tensor:
    """[K, F] float64: each feature of one ligand's K poses as its rank position among them (ties share
    the mean position) scaled to [0, 1], minus the mean over the K poses."""
    x = torch.stack([torch.as_tensor(properties[f], dtype=torch.float64).reshape(-1) for f in features], dim=1)
    k = x.shape[0]
    if k < 2:
        return torch.zeros_like(x)
    below = (x[:, None, :] > x[None, :, :]).sum(dim=1).to(torch.float64)  # poses with a smaller value
    ties = (x[:, None, :] == x[None, :, :]).sum(dim=1).to(torch.float64)
    ranks = (below + (ties - 1) / 2) / (k - 1)
    return ranks - ranks.mean(dim=0, keepdim=True)


def fit_pose_ranker(groups: Sequence[Mapping[str, Tensor]], labels: Sequence[Tensor],
                    features: Sequence[str] = FEATURES, l2: float = 1e-2) -> PoseRanker:
    """Fit the listwise model on training ligands: ``groups`` one {feature: [K_i]} per ligand, ``labels``
    [K_i] bool (pose within 2 Å). Loss: mean over ligands with both kinds of pose of −log of the softmax
    mass on the good poses, plus ``l2`` · |w|²; L-BFGS in float64. Needs one such ligand at least."""
    xs = [centred_features(g, features) for g in groups]
    ys = [torch.as_tensor(t, dtype=torch.bool).reshape(-1) for t in labels]
    if any(x.shape[0] != y.shape[0] for x, y in zip(xs, ys)) or len(xs) != len(ys):
        raise ValueError("fit_pose_ranker: one label per pose")
    used = [(x, y) for x, y in zip(xs, ys) if 0 < int(y.sum()) < y.shape[0]]
    if not used:
        raise ValueError("fit_pose_ranker: need a ligand with poses both within 2 Å and beyond it")
    scale = torch.cat(xs).std(dim=0).clamp_min(1e-6)
    w = torch.zeros(len(features), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = l2 * (w * w).sum()
        for x, y in used:
            logp = torch.log_softmax((x / scale) @ w, dim=0)
            loss = loss - torch.logsumexp(logp[y], dim=0) / len(used)
        loss.backward()
        return loss

    opt.step(closure)
    return PoseRanker(tuple(features), tuple(scale.tolist()), tuple(w.detach().tolist()), 0.0)


__all__ = ["FEATURES", "PoseRanker", "centred_features", "fit_pose_ranker"]
