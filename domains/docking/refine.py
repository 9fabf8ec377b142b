"""Batched local refinement of ligand poses under a Vina-like energy (:mod:`.vina_score`).

Each of K poses is moved by its own rigid change and torsion changes, parameterised as translation
[K, 3] Å, rotation vector [K, 3] radians (about the pose's centroid) and torsion changes [K, m]
radians, all starting at zero, and positions always come from
:func:`~.pose_generators.poses_from_changes` applied to the input poses: bond lengths, angles, rings
and stereocentres stay those of the input by construction. Adam minimises the summed energy (the
poses do not interact, so each follows its own gradient); the lowest energy seen per pose is kept,
and a pose that never improves keeps its input coordinates exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from sciffusion.domains.docking.pose_generators import PreparedLigand, poses_from_changes
from sciffusion.domains.docking.vina_score import intramolecular

EnergyFn = Callable[[Tensor], Tensor]
"""pos [K, N, 3] Å → energy [K] kcal/mol, differentiable."""


@dataclass(frozen=True)
class RefineConfig:
    """Adam settings: ``steps`` (≤ 1000), step sizes for translation (Å), rotation and torsions (radians)."""

    steps: int = 200
    lr_translation: float = 0.05
    lr_rotation: float = 0.02
    lr_torsion: float = 0.05

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 1000:
            raise ValueError(f"refine steps: must be in 1..1000, got {self.steps}")
        for name in ("lr_translation", "lr_rotation", "lr_torsion"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"refine {name}: must be a number > 0, got {value}")


@dataclass(frozen=True)
class RefineResult:
    """pos [K, N, 3] float64 Å refined poses; energy_before / energy_after [K] kcal/mol;
    improved [K] bool (False: the input pose was kept)."""

    pos: Tensor
    energy_before: Tensor
    energy_after: Tensor
    improved: Tensor


def vina_energy_fn(grid, ligand_types: Tensor, pairs: Tensor) -> EnergyFn:
    """Objective inter (from a :class:`~.vina_grid.VinaGrid`) + intramolecular Vina energy, [K] kcal/mol."""
    def energy(pos: Tensor) -> Tensor:
        return grid.energy(pos, ligand_types) + intramolecular(pos, ligand_types, pairs)
    return energy


def ligand_at(ligand: PreparedLigand, pos: Tensor) -> PreparedLigand:
    """The same ligand with the K poses ``pos`` [K, N, 3] as its start conformers."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    mol = Chem.Mol(ligand.mol)
    mol.RemoveAllConformers()
    for k, coords in enumerate(pos.detach().cpu().to(torch.float64).tolist()):
        conf = Chem.Conformer(len(coords))
        for i, (x, y, z) in enumerate(coords):
            conf.SetAtomPosition(i, Point3D(x, y, z))
        conf.SetId(k)
        mol.AddConformer(conf, assignId=False)
    return PreparedLigand(name=ligand.name, mol=mol, tensors=ligand.tensors)


def refine_poses(ligand: PreparedLigand, pos: Tensor, energy_fn: EnergyFn,
                 config: RefineConfig = RefineConfig()) -> RefineResult:
    """Refine poses pos [K, N, 3] Å of ``ligand`` (rigid moves + torsion changes of its start
    conformers) by minimising ``energy_fn`` over rigid and torsion changes; on pos's device."""
    n = ligand.num_atoms
    if pos.dim() != 3 or pos.shape[1:] != (n, 3) or pos.shape[0] == 0:
        raise ValueError(f"{ligand.name}: poses must be [K, {n}, 3] with K >= 1, got {tuple(pos.shape)}")
    if not bool(torch.isfinite(pos).all()):
        raise ValueError(f"{ligand.name}: poses must be finite")
    k, device = pos.shape[0], pos.device
    start = pos.detach().to(torch.float64)
    moved = ligand_at(ligand, start)
    conformer = torch.arange(k, device=device)
    m = int(ligand.tensors["rot_edges"].shape[0])
    params = [torch.zeros(k, 3, dtype=torch.float64, device=device, requires_grad=True),
              torch.zeros(k, 3, dtype=torch.float64, device=device, requires_grad=True),
              torch.zeros(k, m, dtype=torch.float64, device=device, requires_grad=True)]
    optimiser = torch.optim.Adam([{"params": [params[0]], "lr": config.lr_translation},
                                  {"params": [params[1]], "lr": config.lr_rotation},
                                  {"params": [params[2]], "lr": config.lr_torsion}])
    with torch.no_grad():
        before = energy_fn(start)
    best_energy, best_pos = before.clone(), start.clone()
    for _ in range(config.steps + 1):
        optimiser.zero_grad()
        current = poses_from_changes(moved, params[0], params[1], params[2], conformer)
        energy = energy_fn(current)
        with torch.no_grad():
            better = energy < best_energy
            best_energy = torch.where(better, energy, best_energy)
            best_pos = torch.where(better[:, None, None], current, best_pos)
        energy.sum().backward()
        optimiser.step()
    return RefineResult(pos=best_pos, energy_before=before, energy_after=best_energy, improved=best_energy < before)
