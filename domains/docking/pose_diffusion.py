"""Pose diffusion: the chart between product states and ligand poses, the default pose process, the
score-net adapter, and the model file.

State of B ligands (the product layout of :mod:`sciffusion.common.manifolds.product`)::

    "r3":    centroid c' of the pose [B, 3], Å (absolute, in the receptor's frame)
    "so3":   rotation R [B, 3, 3] (about the centroid, applied after the torsions)
    "torus": Ragged torsion changes δ [M] radians relative to the reference conformer, rows in the
             graph's ``rot_edges`` order, index = ligand of each bond

Chart (:func:`poses`)::

    x = R A_δ (τ_δ(x_ref) − c_δ) + c',     c_δ = centroid of τ_δ(x_ref),
    A_δ = Kabsch rotation of τ_δ(x_ref) onto x_ref (identity without rotatable bonds)

so the retractions of the product process act on poses as: r3 ``c' + v`` moves every atom by v; so3
``exp([ω]×) R`` turns the pose by ω (left / space-frame rotation vector) about its centroid; torus
``wrap(δ + v)`` changes the torsions by v and moves the ligand as a whole as little as possible
(A_δ removes the rigid part, as DiffDock's torsion update does), so a torsion move is the same
whichever side of a bond is turned (:func:`~.kinematics.torsion_alignments`), as the score model's
side-independent torsion output assumes. The score network's outputs (translation, rotation about
the centroid, torsion) are tangents of exactly these moves.

Training target (:func:`target_state`): conformer k of a cache entry with its stored change onto the
crystal pose (δ_k, R_k, t_k; kinematics convention x = R_k (τ_δk(x_ref) − c_δk) + c_δk + t_k) gives
``state0 = {c_δk + t_k, R_k A_δk⁻¹, δ_k}``, so ``poses(conformer, state0)`` is the crystal-matched pose
(RMSD to the crystal = the cache's ``rmsd_matched``).

Rigid process (no "torus" component, ``default_pose_process(torsions=False)``): the state is
{"r3", "so3"} and the chart x = R (x_ref − c_ref) + c' moves the reference conformer as a rigid body;
the training target is the conformer's best superposition on the crystal pose (:func:`target_state`).
It trades the torsion search for several start conformers: on the 303 train+val complexes one ETKDG
conformer superposes within 2 Å of the crystal pose in 55 % of cases, the best of 4 in 77 %.

Default process (:func:`default_pose_process`), after DiffDock's ranges (Corso et al. 2023) with a
translation range for **pocket-given** docking: σ_tr ∈ [0.1, 6] Å (the prior centre is the pocket-box
centre; on the 303 train+val complexes the crystal centroid lies 0.09–2.7 Å from it, median 0.77 Å, so
6 Å covers that and boxes drawn by hand a few Å off), σ_rot ∈ [0.03, 1.55] rad, σ_tor ∈ [0.0314, π] rad.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from sciffusion.common.io.checkpoint import check_file_kind
from sciffusion.common.manifolds.product import SO3, Euclidean, ProductProcess, State, Tangents, Torus
from sciffusion.common.manifolds.ragged import Ragged
from sciffusion.common.training.precision import full_precision
from sciffusion.domains.docking.kinematics import (
    TorsionTree, apply_torsions, centroids, kabsch_rotations, torsion_alignments, torsion_tree,
)
from sciffusion.domains.docking.score_inputs import complex_inputs, with_positions
from sciffusion.domains.docking.score_model import DockingScoreModel, ScoreModelConfig

POSE_COMPONENTS = ("r3", "so3", "torus")
TRANSLATION_SIGMA_MAX = 6.0
"""Å; σ_max of the translation diffusion for pocket-given docking (module docstring)."""
RIGID_TORSION_SIGMA = 1.0
"""radians; the σ_tor the score model is given under the rigid process (no torsion noise: the torsions
are the start conformer's, off the crystal's by what ETKDG gets wrong, a constant input)."""
MODEL_FILE_KIND = "sciffusion.docking.pose_diffusion"
MODEL_FILE_VERSION = 1


def default_pose_process(translation_sigma_max: float = TRANSLATION_SIGMA_MAX, torsions: bool = True
                         ) -> ProductProcess:
    """{"r3": Euclidean(0.1, σ_max Å), "so3": SO3(0.03, 1.55), "torus": Torus(0.0314, π)} (module
    docstring); ``torsions=False``: the rigid process, r3 and so3 only."""
    parts = {"r3": Euclidean(0.1, translation_sigma_max), "so3": SO3(0.03, 1.55)}
    if torsions:
        parts["torus"] = Torus(0.0314, math.pi)
    return ProductProcess(parts)


def has_torsions(process: ProductProcess) -> bool:
    """Whether ``process`` diffuses torsions (a "torus" component) or is rigid (r3 and so3 only)."""
    return "torus" in process.components


def check_pose_process(process: ProductProcess) -> ProductProcess:
    """Raise unless ``process`` has r3 (Euclidean) and so3 (SO3) components and at most a torus
    (Torus) besides: the flexible or the rigid pose process."""
    kinds = {"r3": Euclidean, "so3": SO3, "torus": Torus}
    names = set(process.components)
    if not ({"r3", "so3"} <= names <= set(kinds)):
        raise ValueError(f"process: pose diffusion needs components r3, so3 and optionally torus, "
                         f"got {sorted(process.components)}")
    for name, kind in kinds.items():
        if name in names and not isinstance(process.components[name], kind):
            got = type(process.components[name]).__name__
            raise ValueError(f"process[{name!r}]: must be {kind.__name__}, got {got}")
    return process


@dataclass(frozen=True)
class LigandLayout:
    """The flat torsion layout of B ligands (a graph or a torch-geometric batch of them): ``batch``
    [ΣN] ligand of each atom, ``rot_edges`` [M, 2], sparse moving sides ``mask_torsion``,
    ``mask_atom`` [nnz], ``rot_batch`` [M] ligand of each bond, ``tree`` (computed once)."""

    batch: Tensor
    num_ligands: int
    rot_edges: Tensor
    mask_torsion: Tensor
    mask_atom: Tensor
    rot_batch: Tensor
    tree: TorsionTree

    @classmethod
    def of(cls, graph, check: bool = False) -> "LigandLayout":
        """From a :class:`~.collate.ComplexGraph` or a batch of them (``check``: validate the tree)."""
        lig = graph["ligand"]
        n = lig.num_nodes
        if "batch" in lig:
            batch, num = lig.batch, int(graph.num_graphs)
        else:
            batch, num = torch.zeros(n, dtype=torch.long, device=lig.x.device), 1
        edges = lig.rot_edges.reshape(-1, 2)
        tree = torsion_tree(edges, lig.rot_mask_torsion, lig.rot_mask_atom, n, check=check)
        return cls(batch, num, edges, lig.rot_mask_torsion, lig.rot_mask_atom, batch[edges[:, 0]], tree)

    def torsion_part(self, values: Tensor) -> Ragged:
        """Torsion values [M] (``rot_edges`` order) as the ragged "torus" part of B samples."""
        return Ragged(values, self.rot_batch, self.num_ligands)


@full_precision
def torsioned(reference_pos: Tensor, delta: Tensor, layout: "LigandLayout") -> tuple[Tensor, Tensor]:
    """The rigid-free torsion change of the chart: ``(A_δ (τ_δ(x_ref) − c_δ) [ΣN, 3] Å, c_δ [B, 3] Å)``
    for reference conformers [ΣN, 3] Å and torsion changes δ [M] radians (module docstring)."""
    flex = apply_torsions(reference_pos, layout.rot_edges, layout.mask_torsion, layout.mask_atom,
                          delta.to(reference_pos.dtype), layout.tree)
    centre = centroids(flex, layout.batch, layout.num_ligands)
    align = torsion_alignments(reference_pos, flex, layout.batch, layout.num_ligands, layout.rot_batch)
    local = torch.einsum("nij,nj->ni", align[layout.batch], flex - centre[layout.batch])
    return local, centre


@full_precision
def poses(reference_pos: Tensor, state: Mapping[str, Any], layout: LigandLayout) -> Tensor:
    """Ligand coordinates [ΣN, 3] Å of the state (module docstring): reference_pos [ΣN, 3] Å (the
    reference conformers, flat), state {"r3" [B, 3] Å, "so3" [B, 3, 3], "torus" Ragged [M] radians}.
    Batched over ligands and bonds (one tensor step per torsion-tree level, one batched SVD). Runs outside
    mixed precision (``full_precision``), so only the score model sees bf16/fp16."""
    if "torus" in state:
        torsion = state["torus"]
        delta = torsion.values if isinstance(torsion, Ragged) else torsion
        local, _ = torsioned(reference_pos, delta, layout)
    else:  # rigid: the reference conformer as it is, about its centroid
        local = reference_pos - centroids(reference_pos, layout.batch, layout.num_ligands)[layout.batch]
    rot = state["so3"].to(reference_pos.dtype)[layout.batch]
    target = state["r3"].to(reference_pos.dtype)[layout.batch]
    return torch.einsum("nij,nj->ni", rot, local) + target


@full_precision
def target_state(graph, layout: LigandLayout | None = None, torsions: bool = True) -> State:
    """The training target state0 of a graph or batch built with ``conformer=k`` whose ``ligand.pos``
    is the reference conformer (:func:`~.pose_dataset.training_graph`): r3 = c_δ + t_k [B, 3] Å,
    so3 = R_k A_δ⁻¹ [B, 3, 3], torus = δ_k [M] radians (module docstring).

    ``torsions=False`` (the rigid process): the conformer as it is, best superposed on the crystal
    pose: r3 = the crystal centroid [B, 3] Å, so3 = the Kabsch rotation of the conformer onto the
    crystal pose [B, 3, 3] (RMSD to the crystal = the cache's ``rmsd_rigid``)."""
    layout = LigandLayout.of(graph) if layout is None else layout
    lig = graph["ligand"]
    if not torsions:
        crystal = lig.crystal_pos.to(lig.pos.dtype)
        return {"r3": centroids(crystal, layout.batch, layout.num_ligands),
                "so3": kabsch_rotations(lig.pos, crystal, layout.batch, layout.num_ligands)}
    delta = lig.rot_conformer_delta.reshape(-1)
    flex = apply_torsions(lig.pos, layout.rot_edges, layout.mask_torsion, layout.mask_atom, delta, layout.tree)
    centre = centroids(flex, layout.batch, layout.num_ligands)
    align = torsion_alignments(lig.pos, flex, layout.batch, layout.num_ligands, layout.rot_batch)
    b = layout.num_ligands
    return {"r3": centre + graph.conformer_translation.reshape(b, 3),
            "so3": graph.conformer_rotation.reshape(b, 3, 3) @ align.transpose(1, 2),
            "torus": layout.torsion_part(delta)}


class PoseScoreNet(nn.Module):
    """The product-space score network: ``forward(noisy_state, t [B], cond) -> {"r3": [B, 3] Å⁻¹,
    "so3": [B, 3] rad⁻¹, "torus": [M] rad⁻¹}``. ``cond`` is a graph batch whose ``ligand.pos`` holds the
    reference conformers; the pose of the state (:func:`poses`) is scored by ``model`` at
    σ_k(t) of ``process`` (translation = the r3 score, rotation about the centroid = the so3 score,
    torsions = the torus score, in ``rot_edges`` order)."""

    def __init__(self, model: DockingScoreModel, process: ProductProcess):
        super().__init__()
        self.model = model
        self.process = check_pose_process(process)

    def forward(self, state: State, t: Tensor, cond) -> Tangents:
        layout = LigandLayout.of(cond)
        ref = cond["ligand"].pos
        pos = poses(ref, state, layout)
        sigmas = self.process.sigmas(t.detach().to(torch.float64))
        sigma_tor = sigmas["torus"] if "torus" in sigmas else RIGID_TORSION_SIGMA
        scores = self.model(with_positions(complex_inputs(cond), pos), sigmas["r3"], sigmas["so3"], sigma_tor)
        out = {"r3": scores.translation, "so3": scores.rotation, "torus": scores.torsion}
        return {k: out[k] for k in self.process.components}


def score_model_config_from_dict(d: Mapping[str, Any]) -> ScoreModelConfig:
    """:class:`ScoreModelConfig` from a plain dict; unknown keys are an error."""
    known = {f.name for f in dataclasses.fields(ScoreModelConfig)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"model config: unknown keys {sorted(unknown)}")
    return ScoreModelConfig(**d)


def model_file(model: DockingScoreModel, process: ProductProcess, data: Mapping[str, Any],
               extra: Mapping[str, Any] | None = None) -> dict:
    """The plain dict stored as ``model.ckpt`` (readable weights-only): kind, version, model config,
    process, the data settings the model was trained with, weights (CPU) and ``extra`` (e.g. step)."""
    return {"kind": MODEL_FILE_KIND, "format_version": MODEL_FILE_VERSION,
            "model": dataclasses.asdict(model.config), "process": process.to_dict(), "data": dict(data),
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            **({"extra": dict(extra)} if extra else {})}


def model_from_file(content: Any, source: str) -> tuple[DockingScoreModel, ProductProcess, dict]:
    """(model in eval mode, process, data settings) from a :func:`model_file` dict; one-line
    ValueError naming ``source`` for anything else."""
    check_file_kind(content, source, MODEL_FILE_KIND, MODEL_FILE_VERSION, "pose-diffusion model",
                    "RUN_DIR/model.ckpt written by 'sciffusion docking train'")
    try:
        model = DockingScoreModel(score_model_config_from_dict(content["model"]))
        process = check_pose_process(ProductProcess.from_dict(content["process"]))
        model.load_state_dict(content["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise ValueError(f"{source}: model file does not fit this network ({type(exc).__name__}: {detail})") from None
    return model.eval(), process, dict(content.get("data", {}))


__all__ = ["LigandLayout", "MODEL_FILE_KIND", "POSE_COMPONENTS", "PoseScoreNet", "RIGID_TORSION_SIGMA",
           "TRANSLATION_SIGMA_MAX", "check_pose_process", "default_pose_process", "has_torsions", "model_file", "model_from_file", "poses",
           "score_model_config_from_dict", "target_state"]
