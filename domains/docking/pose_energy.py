"""The Vina-like pose energy that guidance, refinement and physics ranking share.

Per ligand: XS atom types, intramolecular pairs and Vina's rotor count (:class:`LigandVina`); per
(receptor, search box): receptor energy grids (:class:`ReceptorGrids`), built once per ligand atom
type on first use and reused for every later ligand of a run (a grid costs ~0.4 s per type for a
13 Å box at Vina's 0.375 Å spacing on one CPU core). The objective is Vina's
``inter + intra`` (kcal/mol; what :func:`~.refine.refine_poses` minimises); the reported score is
Vina's normalised ``inter / (1 + 0.05846 N_rot)`` (:func:`~.vina_score.vina_score`).

:func:`state_energy_fn` evaluates the objective of a batch of pose-diffusion states (the chart
:func:`~.pose_diffusion.poses`), differentiably, for the core's product-space energy guidance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import Tensor

from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.vina_grid import VinaGrid
from sciffusion.domains.docking.vina_score import intramolecular, intramolecular_pairs, vina_rotor_count, vina_score

if TYPE_CHECKING:
    from sciffusion.domains.docking.pose_generators import PreparedLigand, PreparedReceptor

GRID_SPACING = 0.375
"""Å between grid points (AutoDock Vina's default)."""
GUIDANCE_SIGMA_DATA = {"r3": 1.0, "so3": 0.5, "torus": 0.5}
"""σ_d per pose component (Å, radians) for guidance: the physics tilt fades in once the noise falls
below these, i.e. once the pose is within about a basin width of a local minimum."""
GUIDANCE_CLIP = 1.0
"""Guidance term per row bounded by 1/σ (one noise scale per unit step; ``EnergyGuidance.clip``)."""


@dataclass(frozen=True)
class LigandVina:
    """types [N] long XS types, pairs [P, 2] long intramolecular pairs, rotors N_rot (Vina's count)."""

    types: Tensor
    pairs: Tensor
    rotors: float

    @classmethod
    def of(cls, ligand: "PreparedLigand") -> "LigandVina":
        from sciffusion.domains.docking.vina_types import ligand_types

        return cls(types=ligand_types(ligand.mol), pairs=intramolecular_pairs(ligand.mol, ligand.tensors["rot_mask"]),
                   rotors=float(vina_rotor_count(ligand.mol, ligand.tensors["rot_edges"].reshape(-1, 2))))


class BoxGrids:
    """Receptor grids over one search box, one :class:`VinaGrid` per batch of ligand types built;
    duck-types ``VinaGrid.energy`` (pos [K, N, 3] Å, types [N] → [K] kcal/mol) for every type built."""

    def __init__(self, receptor_pos: Tensor, receptor_types: Tensor, box: Box, spacing: float) -> None:
        self.receptor_pos, self.receptor_types, self.box, self.spacing = receptor_pos, receptor_types, box, spacing
        self.parts: list[VinaGrid] = []

    def covered(self) -> set[int]:
        return {int(t) for g in self.parts for t in (g.slot >= 0).nonzero().reshape(-1).tolist()}

    def ensure(self, types: Tensor) -> "BoxGrids":
        """Build the grids of the ligand types in ``types`` [N] not built yet."""
        missing = sorted({int(t) for t in types.reshape(-1).tolist() if int(t) >= 0} - self.covered())
        if missing:
            self.parts.append(VinaGrid.build(self.receptor_pos, self.receptor_types, self.box.center, self.box.size,
                                             spacing=self.spacing, types=missing))
        return self

    def energy(self, pos: Tensor, ligand_types: Tensor) -> Tensor:
        """Intermolecular energy [K] kcal/mol of pos [K, N, 3] Å, differentiable (types must be built)."""
        self.ensure(ligand_types)
        total = pos.new_zeros(pos.shape[0])
        for grid in self.parts:
            mine = grid.slot.to(ligand_types.device)[ligand_types.clamp(min=0)] >= 0
            total = total + grid.energy(pos, torch.where(mine & (ligand_types >= 0), ligand_types,
                                                         torch.full_like(ligand_types, -1)))
        return total


class ReceptorGrids:
    """:class:`BoxGrids` per (receptor, box), the last ``keep`` kept. A receptor is recognised by a
    fingerprint of its atoms (count, coordinate sums, type sum), so two preparations of one protein
    (e.g. two methods of a benchmark) share grids."""

    def __init__(self, spacing: float = GRID_SPACING, keep: int = 4) -> None:
        self.spacing, self.keep = spacing, keep
        self._grids: dict[tuple, BoxGrids] = {}

    def for_box(self, receptor: "PreparedReceptor", box: Box) -> BoxGrids:
        pos = receptor.atoms["pos"].to(torch.float64).cpu()
        types = receptor.vina_types
        if types is None:
            raise ValueError("receptor: no Vina atom types (prepare it with PreparedReceptor.from_protein)")
        key = (pos.shape[0], float(pos.sum()), float(pos.abs().sum()), int(types.sum()), tuple(box.center),
               tuple(box.size))
        if key not in self._grids:
            if len(self._grids) >= self.keep:
                self._grids.pop(next(iter(self._grids)))
            self._grids[key] = BoxGrids(pos, types.cpu(), box, self.spacing)
        return self._grids[key]


def pose_objective_fn(grids: BoxGrids, vina: LigandVina) -> Callable[[Tensor], Tensor]:
    """pos [K, N, 3] Å → inter + intra [K] kcal/mol (the refinement objective), differentiable."""
    grids.ensure(vina.types)

    def objective(pos: Tensor) -> Tensor:
        return grids.energy(pos, vina.types) + intramolecular(pos, vina.types, vina.pairs)

    return objective


def score_poses(grids: BoxGrids, vina: LigandVina, pos: Tensor) -> dict[str, Tensor]:
    """{``vina_score`` (inter / (1 + w_rot N_rot), Vina's reported affinity), ``vina_inter``,
    ``vina_intra``}, each [K] float64 kcal/mol, for pos [K, N, 3] Å (no gradient)."""
    with torch.no_grad():
        out = vina_score(pos.to(torch.float64).cpu(), vina.types, vina.pairs, vina.rotors, grid=grids.ensure(vina.types))
    return {"vina_score": out["total_normalised"], "vina_inter": out["inter"], "vina_intra": out["intra"]}


def state_energy_fn(grids: BoxGrids, ligands: Sequence["PreparedLigand"], samples: int, reference_pos: Tensor,
                    layout) -> Callable[[dict], Tensor]:
    """The objective of a pose-diffusion batch state: ``samples`` consecutive samples per ligand, in
    order (as :class:`~.pose_generators.DiffusionPoseGenerator` batches them); reference_pos [ΣN, 3] Å
    the graphs' reference conformers, ``layout`` their :class:`~.pose_diffusion.LigandLayout`.
    Returns ``energy(state) -> [B]`` kcal/mol (B = samples · len(ligands)), differentiable."""
    from sciffusion.domains.docking.pose_diffusion import poses

    vinas = [LigandVina.of(lig) for lig in ligands]
    objectives = [pose_objective_fn(grids, v) for v in vinas]
    sizes = [samples * lig.num_atoms for lig in ligands]

    def energy(state: dict) -> Tensor:
        pos = poses(reference_pos, state, layout)
        parts = torch.split(pos, sizes)
        return torch.cat([fn(p.reshape(samples, lig.num_atoms, 3)) for fn, p, lig in zip(objectives, parts, ligands)])

    return energy
