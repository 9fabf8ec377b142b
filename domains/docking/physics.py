"""Physics on top of any pose generator: Vina-like refinement, scores and ranking
(:class:`PhysicsRanked`), and the physics-only control (:func:`physics_control`).

:class:`PhysicsRanked` wraps a :class:`~.pose_generators.PoseGenerator`: generate → optionally refine
every pose of a ligand at once (:func:`~.refine.refine_poses` under inter + intra, rigid moves and
torsion changes only, so bonds and stereocentres stay the start conformer's), in ``mc_rounds`` > 1
rounds of perturb-and-refine keeping each pose's best (Monte-Carlo style) → score → rank. Per-pose
properties added (kcal/mol): ``vina_score`` (Vina's normalised affinity inter / (1 + 0.05846 N_rot),
lower = better), ``vina_inter``, ``vina_intra``, ``energy_before_refine`` (inter + intra of the
generated pose, the refinement objective), and ``model_confidence`` when the ranking replaces the
generator's confidence. Rankings (``rank_by``):

- ``confidence``: the generator's confidence (recomputed on refined poses with ``confidence_fn``);
- ``vina``: lowest ``vina_score`` first (confidence = −vina_score);
- ``combined``: Borda count, the mean of the two rank positions (0 = best) over the ligand's poses,
  ties to the lower ``vina_score`` (confidence = −(r_conf + r_vina)/2 − r_vina/(4K)); rank-based so
  neither scale (logits, kcal/mol) dominates;
- ``learned``: a :class:`~.pose_ranker.PoseRanker` fitted on the training split over the learned
  confidence, the Vina-like terms and the agreement between poses (``sciffusion docking train-ranker``).

With ``contact_penalty`` (off by default: on the 30 val complexes it lowered top-1 < 2 Å & PB-valid from
20 % to 13 %, docs/docking.md), refinement also keeps every ligand–receptor heavy-atom pair at 0.8 × its
radii sum or more (:mod:`~.contact_distance`), and poses that still fail PoseBusters' minimum-distance
criterion (0.75 ×) are ranked after every pose that passes (their confidence lowered by
:data:`CLASH_DEMOTION`); ``min_distance_ratio`` is written per pose.

Receptor grids come from a :class:`~.pose_energy.ReceptorGrids` shared across calls (built once per
receptor, box and ligand atom type).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from sciffusion.domains.docking.contact_distance import (
    PB_CLASH_CUTOFF, contact_penalty_fn, min_distance_ratio, pair_radii,
)
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.pose_ranker import PoseRanker
from sciffusion.domains.docking.pose_energy import LigandVina, ReceptorGrids, pose_objective_fn, score_poses
from sciffusion.domains.docking.pose_generators import (
    CONFIDENCE_RADIUS, ConfidenceFn, PoseSet, PreparedLigand, PreparedReceptor, RandomPoseGenerator, _atoms_near,
    poses_from_changes,
)
from sciffusion.domains.docking.refine import RefineConfig, ligand_at, refine_poses

RANK_BY = ("confidence", "vina", "combined", "learned")
PHYSICS_REFINE_STEPS = 100
"""Refinement steps per round of the physics control when none are asked for."""
MC_ROUNDS = 4
"""Perturb-and-refine rounds of the physics control (the first refines the random start)."""
MC_STEP = {"translation": 1.0, "rotation": 0.3, "torsion": 0.6}
"""Standard deviations of a Monte-Carlo perturbation per pose: Å per axis, radians per rotation-vector
axis, radians per torsion."""
CLASH_DEMOTION = 1000.0
"""Subtracted from the ranking confidence of a pose that fails PoseBusters' minimum distance to the
protein, so every passing pose ranks first."""
CONTACT_PAD = 6.0
"""Å around the poses' bounding box: receptor atoms further away cannot reach a pose during refinement."""


@dataclass(frozen=True, eq=False)
class PhysicsRanked:
    """``base`` generator + Vina-like refinement (``refine_steps`` Adam steps per round, 0 = off),
    ``mc_rounds`` ≥ 1 perturb-and-refine rounds, scores and ranking ``rank_by`` (module docstring);
    ``confidence_fn`` re-scores refined poses for ``rank_by="confidence"`` (None: the base's
    confidence of the unrefined poses is kept); ``grids`` shared :class:`ReceptorGrids` (None: one
    per instance); ``name`` (default: the base's)."""

    base: Any
    refine_steps: int = 0
    rank_by: str = "confidence"
    mc_rounds: int = 1
    confidence_fn: Optional[ConfidenceFn] = None
    grids: Optional[ReceptorGrids] = None
    name: str = ""
    kind: str = ""
    ranker: Optional[PoseRanker] = None
    contact_penalty: bool = False

    def __post_init__(self) -> None:
        if self.rank_by not in RANK_BY:
            raise ValueError(f"--rank-by: must be one of {', '.join(RANK_BY)}, got {self.rank_by!r}")
        if self.rank_by == "learned" and self.ranker is None:
            raise ValueError("--rank-by learned: needs a pose ranker (sciffusion docking train-ranker)")
        if not 0 <= self.refine_steps <= 1000:
            raise ValueError(f"--refine-steps: must be in 0..1000, got {self.refine_steps}")
        if self.mc_rounds < 1 or (self.mc_rounds > 1 and not self.refine_steps):
            raise ValueError(f"mc_rounds: must be >= 1 (and > 1 only with refinement), got {self.mc_rounds}")
        if not self.name:
            object.__setattr__(self, "name", self.base.name)
        if self.grids is None:
            object.__setattr__(self, "grids", ReceptorGrids())

    def generate(self, receptor: PreparedReceptor, ligands: Sequence[PreparedLigand], pocket: Box,
                 samples: int, generator: torch.Generator) -> list[PoseSet]:
        sets = self.base.generate(receptor, ligands, pocket, samples, generator)
        grids = self.grids.for_box(receptor, pocket)
        return [self._physics(receptor, grids, ligand, poses, generator) for ligand, poses in zip(ligands, sets)]

    def _physics(self, receptor: PreparedReceptor, grids, ligand: PreparedLigand, poses: PoseSet,
                 generator: torch.Generator) -> PoseSet:
        vina = LigandVina.of(ligand)
        objective = pose_objective_fn(grids, vina)
        pos = poses.pos.detach().to(torch.float64).cpu()
        with torch.no_grad():
            before = objective(pos)
        rec_pos, rec_symbols = _receptor_near(receptor, pos, CONTACT_PAD)
        radii = pair_radii([a.GetSymbol() for a in ligand.mol.GetAtoms()], rec_symbols)
        if self.contact_penalty and self.refine_steps:
            penalty = contact_penalty_fn(rec_pos, radii)
            vina_objective = objective

            def objective(p: Tensor) -> Tensor:
                return vina_objective(p) + penalty(p)
        confidence, properties = poses.confidence.detach().cpu(), {k: v.cpu() for k, v in poses.properties.items()}
        if self.refine_steps:
            with torch.enable_grad():  # callers may run under no_grad (Lightning's predict loop)
                pos = self.search(ligand, pos, objective, generator)
            if self.confidence_fn is not None:
                rec = receptor.atoms["pos"].to(torch.float64).cpu()
                scores = dict(self.confidence_fn(pos, _atoms_near(rec, pos, CONFIDENCE_RADIUS)))
                confidence, properties = scores.pop("confidence").cpu(), {**properties, **scores}
        properties.update(score_poses(grids, vina, pos))
        properties["energy_before_refine"] = before.detach()
        ratio = min_distance_ratio(pos, rec_pos, radii)
        properties["min_distance_ratio"] = ratio
        if self.rank_by != "confidence":
            properties["model_confidence"] = confidence.to(torch.float64)
            confidence = rank_confidence(confidence, properties["vina_score"], self.rank_by, properties, self.ranker)
        if self.contact_penalty:
            confidence = confidence.to(torch.float64) - CLASH_DEMOTION * (ratio < PB_CLASH_CUTOFF).to(torch.float64)
        return PoseSet(pos=pos, confidence=confidence, properties=properties,
                       conformer=None if poses.conformer is None else poses.conformer.cpu())

    def search(self, ligand: PreparedLigand, pos: Tensor, objective, generator: torch.Generator) -> Tensor:
        """Refine pos [K, N, 3] Å; with ``mc_rounds`` > 1 then repeatedly perturb each pose's best (random
        rigid move + torsion changes, :data:`MC_STEP`), refine, and keep it where the objective fell."""
        config = RefineConfig(steps=self.refine_steps)
        result = refine_poses(ligand, pos, objective, config)
        best, best_energy = result.pos, result.energy_after
        k, m = pos.shape[0], int(ligand.tensors["rot_edges"].shape[0])
        for _ in range(self.mc_rounds - 1):
            draw = [torch.randn(k, d, dtype=torch.float64, device=generator.device, generator=generator).cpu() * s
                    for d, s in ((3, MC_STEP["translation"]), (3, MC_STEP["rotation"]), (m, MC_STEP["torsion"]))]
            trial = poses_from_changes(ligand_at(ligand, best), *draw, torch.arange(k))
            result = refine_poses(ligand, trial, objective, config)
            better = result.energy_after < best_energy
            best = torch.where(better[:, None, None], result.pos, best)
            best_energy = torch.where(better, result.energy_after, best_energy)
        return best

    def describe(self) -> dict:
        out = dict(self.base.describe())
        out.update({"name": self.name, "kind": self.kind or out.get("kind", ""), "physics": {
            "score": "Vina-like (Vina 1.2 weights, receptor grids over the search box); vina_score = inter / "
                     "(1 + 0.05846 N_rot), kcal/mol",
            "refine_steps": self.refine_steps, "mc_rounds": self.mc_rounds,
            "mc_step": dict(MC_STEP) if self.mc_rounds > 1 else None, "rank_by": self.rank_by,
            "ranker": None if self.ranker is None else self.ranker.to_dict(),
            "grid_spacing": self.grids.spacing}})
        return out


def _receptor_near(receptor: PreparedReceptor, pos: Tensor, pad: float) -> tuple[Tensor, list[str]]:
    """(positions [A', 3] Å float64, element symbols) of the receptor heavy atoms inside the bounding box
    of pos [K, N, 3] padded by ``pad`` Å (an element outside the receptor vocabulary reads as carbon)."""
    from sciffusion.domains.docking.features import RECEPTOR_ELEMENTS

    rec = receptor.atoms["pos"].to(torch.float64).cpu()
    flat = pos.reshape(-1, 3)
    keep = ((rec >= flat.amin(0) - pad) & (rec <= flat.amax(0) + pad)).all(dim=1)
    symbols = [*RECEPTOR_ELEMENTS, "C"]
    return rec[keep], [symbols[int(c)] for c in receptor.atoms["element"].cpu()[keep]]


def rank_confidence(confidence: Tensor, vina_score: Tensor, rank_by: str,
                    properties: Optional[dict] = None, ranker: Optional[PoseRanker] = None) -> Tensor:
    """Ranking confidence [K] (higher = better) from the generator's ``confidence`` [K] and
    ``vina_score`` [K] kcal/mol: ``confidence`` as is, ``vina`` −vina_score, ``combined`` the Borda
    count of the module docstring, ``learned`` the ``ranker``'s logits over the poses' ``properties``
    (which must hold ``model_confidence``)."""
    if rank_by == "confidence":
        return confidence
    if rank_by == "vina":
        return -vina_score.to(torch.float64)
    if rank_by == "learned":
        if ranker is None or properties is None:
            raise ValueError("--rank-by learned: needs a pose ranker and the poses' properties")
        return ranker.logits(properties)
    if rank_by != "combined":
        raise ValueError(f"--rank-by: must be one of {', '.join(RANK_BY)}, got {rank_by!r}")
    k = confidence.shape[0]
    r_conf = _positions(-confidence.to(torch.float64))
    r_vina = _positions(vina_score.to(torch.float64))
    return -(r_conf + r_vina) / 2 - r_vina / (4 * k)


def _positions(values: Tensor) -> Tensor:
    """Rank position of each entry of ``values`` [K] in ascending order (0 = smallest, stable), float64."""
    order = torch.sort(values, stable=True).indices
    pos = torch.empty_like(order)
    pos[order] = torch.arange(values.shape[0])
    return pos.to(torch.float64)


def physics_control(refine_steps: int = 0, rank_by: str = "vina", grids: Optional[ReceptorGrids] = None,
                    confidence_fn: Optional[ConfidenceFn] = None, contact_penalty: bool = False) -> PhysicsRanked:
    """The physics-only control: random poses in the pocket (:class:`RandomPoseGenerator`), then
    :data:`MC_ROUNDS` rounds of perturb-and-refine under the Vina-like objective (``refine_steps`` per
    round; 0 → :data:`PHYSICS_REFINE_STEPS`), ranked by ``rank_by`` (default the Vina-like score)."""
    return PhysicsRanked(RandomPoseGenerator(name="physics"), refine_steps=refine_steps or PHYSICS_REFINE_STEPS,
                         rank_by=rank_by, mc_rounds=MC_ROUNDS, confidence_fn=confidence_fn, grids=grids,
                         contact_penalty=contact_penalty, name="physics", kind="physics control (random starts + Monte-Carlo Vina-like refinement)")
