"""A learned confidence that ranks docked poses: invariant per-pose features and a small classifier.

:func:`pose_features` describes each of the K poses of one ligand by numbers that do not change
under a rigid motion of poses and receptor together (distances and counts only): agreement with the
other poses of the same ligand (consensus), clashes and contacts (:func:`~.pose_generators.clash_confidence`),
buriedness, size and shape. :class:`ConfidenceModel` standardises them and maps them to a logit of
P(pose RMSD to the crystal pose < 2 Å): logistic regression (``hidden=0``) or one hidden tanh layer,
fitted full-batch with L-BFGS and an L2 penalty on the weights. It is trained on the score model's
own samples (``sciffusion docking train-confidence``), so it ranks that model's poses, and its
consensus features are computed over the K poses sampled together (train and dock with similar K).

:func:`confidence_fn` plugs a fitted model into a pose generator (``ConfidenceFn`` of
:mod:`.pose_generators`): ``{"confidence": logit [K], <feature>: [K] ...}``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import Tensor

from sciffusion.domains.docking.pose_generators import CONFIDENCE_RADIUS, clash_confidence

CONFIDENCE_FILE_KIND = "sciffusion.docking.confidence_model"
CONFIDENCE_FILE_VERSION = 1
SUCCESS_RMSD = 2.0
"""Å: a pose within this symmetry-corrected heavy-atom RMSD of the crystal pose is a success (label 1)."""
CONSENSUS_RMSD = 2.0
"""Å: another pose of the same ligand within this plain RMSD counts as agreeing (``consensus_fraction``)."""
BURIED_DISTANCE = CONFIDENCE_RADIUS
"""Å: receptor heavy atoms within this distance of a ligand atom count towards ``buriedness``; equal
to the radius of receptor atoms that a pose generator hands to a ``ConfidenceFn``."""

FEATURE_NAMES = (
    "consensus_rmsd",      # mean plain RMSD to the other K-1 poses of the ligand, Å (0 when K = 1)
    "consensus_fraction",  # share of the other K-1 poses within CONSENSUS_RMSD (1 when K = 1)
    "centroid_offset",     # distance of the pose centroid from the mean centroid of the K poses, Å
    "log1p_clashes",       # log(1 + ligand-receptor heavy-atom pairs < 2.5 Å)
    "contact_fraction",    # share of ligand atoms with a receptor atom within 4 Å
    "buriedness",          # mean number of receptor atoms within BURIED_DISTANCE per ligand atom
    "closest_contact",     # smallest ligand-receptor distance, Å (capped at BURIED_DISTANCE)
    "radius_of_gyration",  # of the ligand pose, Å (changes with torsions)
    "log_atoms",           # log(number of ligand heavy atoms)
)


def consensus_features(pos: Tensor) -> dict[str, Tensor]:
    """Agreement of each pose with the other poses of the same ligand (same atom order, no symmetry,
    no alignment). pos [K, N, 3] Å → {consensus_rmsd, consensus_fraction, centroid_offset}, each [K] float64."""
    pos = pos.to(torch.float64)
    k, n = pos.shape[:2]
    flat = pos.reshape(k, n * 3)
    rmsd = torch.cdist(flat, flat) / math.sqrt(n)  # [K, K] plain RMSD, Å
    centroids = pos.mean(dim=1)
    offset = (centroids - centroids.mean(dim=0)).norm(dim=-1)
    if k == 1:
        return {"consensus_rmsd": torch.zeros(1, dtype=torch.float64),
                "consensus_fraction": torch.ones(1, dtype=torch.float64), "centroid_offset": offset}
    others = ~torch.eye(k, dtype=torch.bool, device=pos.device)
    mean_rmsd = (rmsd * others).sum(dim=1) / (k - 1)
    agree = ((rmsd < CONSENSUS_RMSD) & others).sum(dim=1).to(torch.float64) / (k - 1)
    return {"consensus_rmsd": mean_rmsd, "consensus_fraction": agree, "centroid_offset": offset}


def receptor_features(pos: Tensor, receptor_pos: Tensor, chunk: int = 16) -> dict[str, Tensor]:
    """Buriedness and closest approach of each pose. pos [K, N, 3] Å, receptor_pos [A, 3] Å →
    {buriedness, closest_contact}, each [K] float64 (``closest_contact`` capped at BURIED_DISTANCE)."""
    rec = receptor_pos.to(pos.device, torch.float64)
    buried, closest = [], []
    for start in range(0, pos.shape[0], chunk):
        part = pos[start:start + chunk].to(torch.float64)
        if rec.shape[0] == 0:
            buried.append(torch.zeros(part.shape[0], dtype=torch.float64, device=pos.device))
            closest.append(torch.full((part.shape[0],), BURIED_DISTANCE, dtype=torch.float64, device=pos.device))
            continue
        dist = torch.cdist(part, rec.expand(part.shape[0], -1, -1))  # [k, N, A]
        buried.append((dist < BURIED_DISTANCE).sum(dim=2).to(torch.float64).mean(dim=1))
        closest.append(dist.amin(dim=(1, 2)).clamp(max=BURIED_DISTANCE))
    return {"buriedness": torch.cat(buried), "closest_contact": torch.cat(closest)}


def pose_features(pos: Tensor, receptor_pos: Tensor) -> Tensor:
    """Invariant features of the K poses of one ligand, columns in :data:`FEATURE_NAMES` order.

    pos: [K, N, 3] Å, all poses of one ligand (same atom order). receptor_pos: [A, 3] Å receptor heavy
    atoms; every atom within BURIED_DISTANCE of some pose atom must be included (more is harmless).
    Returns [K, F] float64. Unchanged by a rotation + translation applied to poses and receptor alike.
    """
    if pos.dim() != 3 or pos.shape[-1] != 3 or pos.shape[0] == 0 or pos.shape[1] == 0:
        raise ValueError(f"pos: must be [K, N, 3] with K, N >= 1, got {tuple(pos.shape)}")
    pos = pos.to(torch.float64)
    k, n = pos.shape[:2]
    clash = clash_confidence(pos, receptor_pos)
    centred = pos - pos.mean(dim=1, keepdim=True)
    values = {**consensus_features(pos), **receptor_features(pos, receptor_pos),
              "log1p_clashes": torch.log1p(clash["clashes"]), "contact_fraction": clash["contact_fraction"],
              "radius_of_gyration": centred.pow(2).sum(-1).mean(-1).sqrt(),
              "log_atoms": torch.full((k,), math.log(n), dtype=torch.float64, device=pos.device)}
    return torch.stack([values[name].to(pos.device) for name in FEATURE_NAMES], dim=1)


@dataclass(frozen=True)
class ConfidenceFitConfig:
    """hidden: tanh units of the one hidden layer (0: logistic regression). weight_decay: L2 penalty on
    the weights (not biases), per training example. max_iter: L-BFGS iterations. seed: initial weights."""

    hidden: int = 16
    weight_decay: float = 1e-3
    max_iter: int = 300
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden < 0:
            raise ValueError(f"hidden: must be >= 0, got {self.hidden}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay: must be a finite number >= 0, got {self.weight_decay}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter: must be >= 1, got {self.max_iter}")


def _network(num_features: int, hidden: int) -> torch.nn.Module:
    if hidden == 0:
        return torch.nn.Linear(num_features, 1).double()
    return torch.nn.Sequential(torch.nn.Linear(num_features, hidden), torch.nn.Tanh(),
                               torch.nn.Linear(hidden, 1)).double()


class ConfidenceModel:
    """Standardisation (``mean``, ``std`` [F] of the training features) + ``net`` ([B, F] → [B, 1] logits)."""

    def __init__(self, mean: Tensor, std: Tensor, net: torch.nn.Module, hidden: int,
                 feature_names: tuple[str, ...] = FEATURE_NAMES, extra: Mapping[str, Any] | None = None) -> None:
        self.mean, self.std, self.net, self.hidden = mean.double(), std.double(), net.eval(), hidden
        self.feature_names = tuple(feature_names)
        self.extra = dict(extra or {})

    @classmethod
    def fit(cls, features: Tensor, labels: Tensor, config: ConfidenceFitConfig = ConfidenceFitConfig(),
            extra: Mapping[str, Any] | None = None) -> "ConfidenceModel":
        """Fit on features [B, F] and 0/1 labels [B] (binary cross-entropy + L2, full-batch L-BFGS).
        Needs both classes; a constant feature is left unscaled (std 1)."""
        x, y = features.to(torch.float64), labels.to(torch.float64).reshape(-1)
        if x.dim() != 2 or x.shape[0] != y.shape[0] or x.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features: expected [B, {len(FEATURE_NAMES)}] with B = {y.shape[0]} labels, "
                             f"got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("features: not all finite")
        if not ((y == 0) | (y == 1)).all() or y.min() == y.max():
            raise ValueError(f"labels: need 0/1 labels of both classes, got {int(y.sum())} of {len(y)} positive")
        mean, std = x.mean(0), x.std(0, unbiased=False)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        torch.manual_seed(config.seed)
        net = _network(x.shape[1], config.hidden)
        z = (x - mean) / std
        weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
        optimizer = torch.optim.LBFGS(net.parameters(), max_iter=config.max_iter, line_search_fn="strong_wolfe",
                                      tolerance_grad=1e-9, tolerance_change=1e-12)

        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(z).squeeze(-1), y)
            loss = loss + config.weight_decay * sum(w.pow(2).sum() for w in weights)
            loss.backward()
            return loss

        optimizer.step(closure)
        return cls(mean, std, net, config.hidden, extra=extra)

    def logits(self, features: Tensor) -> Tensor:
        """Logit of P(RMSD < 2 Å) per pose: features [B, F] (:func:`pose_features`) → [B] float64."""
        if features.dim() != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"features: expected [B, {len(self.feature_names)}], got {tuple(features.shape)}")
        z = (features.to(torch.float64).cpu() - self.mean) / self.std
        with torch.no_grad():
            return self.net(z).squeeze(-1).to(features.device)

    def to_file(self) -> dict:
        """Plain dict (readable with ``torch.load(weights_only=True)``): kind, version, feature names,
        hidden size, standardisation, weights and ``extra`` (training settings and counts)."""
        return {"kind": CONFIDENCE_FILE_KIND, "format_version": CONFIDENCE_FILE_VERSION,
                "feature_names": list(self.feature_names), "hidden": self.hidden,
                "mean": self.mean.clone(), "std": self.std.clone(),
                "state_dict": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
                "extra": dict(self.extra)}

    @classmethod
    def from_file(cls, content: Any, source: str) -> "ConfidenceModel":
        """The model of a :meth:`to_file` dict; one-line ValueError naming ``source`` for anything else."""
        from sciffusion.common.io.checkpoint import check_file_kind

        check_file_kind(content, source, CONFIDENCE_FILE_KIND, CONFIDENCE_FILE_VERSION, "confidence model",
                        "DIR/confidence.ckpt written by 'sciffusion docking train-confidence'")
        if tuple(content.get("feature_names", ())) != FEATURE_NAMES:
            raise ValueError(f"{source}: confidence model features {content.get('feature_names')} differ from "
                             f"this version's {list(FEATURE_NAMES)}")
        try:
            hidden = int(content["hidden"])
            net = _network(len(FEATURE_NAMES), hidden)
            net.load_state_dict(content["state_dict"])
            mean, std = content["mean"].double(), content["std"].double()
            if mean.shape != (len(FEATURE_NAMES),) or std.shape != mean.shape:
                raise ValueError(f"mean/std of shape {tuple(mean.shape)}/{tuple(std.shape)}")
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            detail = " ".join(str(exc).split())[:160]
            raise ValueError(f"{source}: confidence file does not fit this model ({type(exc).__name__}: "
                             f"{detail})") from None
        return cls(mean, std, net, hidden, extra=content.get("extra"))


def load_confidence_model(path, trust: bool = False) -> ConfidenceModel:
    """:class:`ConfidenceModel` from a ``confidence.ckpt`` file (read weights-only unless ``trust``)."""
    from sciffusion.common.io.checkpoint import load_checkpoint

    return ConfidenceModel.from_file(load_checkpoint(path, trust=trust, map_location="cpu"), str(path))


def confidence_fn(model: ConfidenceModel) -> Callable[[Tensor, Tensor], dict[str, Tensor]]:
    """A pose generator's ``ConfidenceFn``: (pos [K, N, 3] Å, receptor atoms near the poses [A', 3] Å)
    → {"confidence": model logit [K], <each feature of FEATURE_NAMES>: [K]} (features become SD properties)."""

    def score(pos: Tensor, receptor_pos: Tensor) -> dict[str, Tensor]:
        features = pose_features(pos, receptor_pos)
        return {"confidence": model.logits(features),
                **{name: features[:, i] for i, name in enumerate(model.feature_names)}}

    return score


def auroc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve of ``scores`` [B] for 0/1 ``labels`` [B] (Mann-Whitney, ties count
    half); NaN when a class is missing."""
    scores, labels = scores.to(torch.float64).reshape(-1), labels.to(torch.bool).reshape(-1)
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    uniq, inverse = torch.unique(sorted_scores, return_inverse=True)  # average ranks over ties
    sums = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, ranks[order])
    counts = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(scores))
    ranks[order] = (sums / counts)[inverse]
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))
