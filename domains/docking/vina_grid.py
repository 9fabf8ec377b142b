"""Receptor Vina energies precomputed on a grid per ligand atom type, read back with tricubic
(Catmull-Rom) interpolation so the energy and its gradient are continuous (trilinear would be C0).

Grid points sit every ``spacing`` Å (default 0.375 Å, AutoDock's) over the box plus two spacings on
each side (the 4-point stencil); value at point p for ligand type t = Σ_a pair_energy(|p − x_a|, t,
t_a) over receptor atoms a within the 8 Å cutoff (:func:`.vina_score.pair_energy`), kcal/mol.
Catmull-Rom interpolation reproduces grid values exactly at grid points and is C1 between them.
Atoms outside the box read the value at the nearest point of the box and pay
``OUTSIDE_PENALTY`` · (distance outside)² kcal/mol, which pulls them back (Vina instead adds a steep
linear penalty).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from sciffusion.domains.docking.vina_score import CUTOFF, pair_energy
from sciffusion.domains.docking.vina_types import NUM_TYPES

OUTSIDE_PENALTY = 10.0
"""kcal/mol/Å²: per ligand atom, times its squared distance outside the box."""
PAD_POINTS = 2


@dataclass(frozen=True)
class VinaGrid:
    """Per-type receptor energy grids. values [T, X, Y, Z] kcal/mol for the ligand XS types ``types``
    (slot of type t: ``slot[t]``, −1 when not built); ``origin`` [3] Å = position of point (0, 0, 0);
    ``box_center``/``box_size`` [3] Å; ``spacing`` Å."""

    values: Tensor
    slot: Tensor
    origin: Tensor
    spacing: float
    box_center: Tensor
    box_size: Tensor

    @classmethod
    def build(cls, receptor_pos: Tensor, receptor_types: Tensor, box_center: Sequence[float],
              box_size: Sequence[float], spacing: float = 0.375, types: Sequence[int] | Tensor = tuple(range(NUM_TYPES)),
              chunk: int = 4096, dtype: torch.dtype = torch.float64) -> "VinaGrid":
        """Grids for ligand ``types`` over the box (centre, size [3] Å) from receptor_pos [A, 3] Å and
        receptor_types [A]; built on receptor_pos's device."""
        if not (math.isfinite(spacing) and spacing > 0):
            raise ValueError(f"grid spacing: must be a number > 0 Å, got {spacing}")
        if receptor_pos.dim() != 2 or receptor_pos.shape[-1] != 3 or receptor_types.shape != receptor_pos.shape[:1]:
            raise ValueError(f"Vina grid: receptor pos [A, 3] and types [A] needed, got {tuple(receptor_pos.shape)} "
                             f"and {tuple(receptor_types.shape)}")
        device = receptor_pos.device
        center = torch.as_tensor(box_center, dtype=dtype, device=device).reshape(-1)
        size = torch.as_tensor(box_size, dtype=dtype, device=device).reshape(-1)
        if center.shape != (3,) or size.shape != (3,) or not bool((size > 0).all()):
            raise ValueError(f"Vina grid: box centre and size need 3 values, sizes > 0 Å; got {box_center}, {box_size}")
        types = sorted({int(t) for t in torch.as_tensor(types).reshape(-1).tolist() if int(t) >= 0})
        if not types or max(types) >= NUM_TYPES:
            raise ValueError(f"Vina grid: ligand types must be in 0..{NUM_TYPES - 1}, got {types}")
        origin = center - size / 2 - PAD_POINTS * spacing
        counts = [int(math.ceil(float(s) / spacing)) + 1 + 2 * PAD_POINTS for s in size]
        axes = [origin[i] + spacing * torch.arange(counts[i], dtype=dtype, device=device) for i in range(3)]
        points = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
        values = _grid_values(points, receptor_pos.to(dtype), receptor_types.to(device),
                              torch.tensor(types, device=device), chunk)
        slot = torch.full((NUM_TYPES,), -1, dtype=torch.long, device=device)
        slot[torch.tensor(types, device=device)] = torch.arange(len(types), device=device)
        return cls(values=values.reshape(len(types), *counts), slot=slot, origin=origin, spacing=float(spacing),
                   box_center=center, box_size=size)

    def energy(self, pos: Tensor, ligand_types: Tensor) -> Tensor:
        """Intermolecular energy [K] kcal/mol of poses pos [K, N, 3] Å with ligand_types [N] (−1 atoms
        score 0), on pos's device and dtype; differentiable in pos."""
        return self.atom_energy(pos, ligand_types).sum(dim=1)

    def atom_energy(self, pos: Tensor, ligand_types: Tensor) -> Tensor:
        """Per-atom intermolecular energy [K, N] kcal/mol (see :meth:`energy`)."""
        if pos.dim() != 3 or pos.shape[-1] != 3 or ligand_types.shape != (pos.shape[1],):
            raise ValueError(f"Vina grid: pos must be [K, N, 3] and ligand types [N], got {tuple(pos.shape)} "
                             f"and {tuple(ligand_types.shape)}")
        device, dtype = pos.device, pos.dtype
        types = ligand_types.to(device)
        slot = self.slot.to(device)[types.clamp(min=0)]
        missing = (types >= 0) & (slot < 0)
        if bool(missing.any()):
            raise ValueError(f"Vina grid: no grid for ligand types {sorted(set(types[missing].tolist()))}; "
                             "build the grid with them")
        values = self.values.to(device=device, dtype=dtype)
        center, half = self.box_center.to(device, dtype), self.box_size.to(device, dtype) / 2
        inside = torch.maximum(torch.minimum(pos, center + half), center - half)
        outside = ((pos - inside) ** 2).sum(dim=-1)
        e = _catmull_rom(values, slot.clamp(min=0), (inside - self.origin.to(device, dtype)) / self.spacing)
        e = e + OUTSIDE_PENALTY * outside
        return torch.where(types >= 0, e, torch.zeros_like(e))


def _grid_values(points: Tensor, rec: Tensor, rec_types: Tensor, types: Tensor, chunk: int) -> Tensor:
    """[T, G] energies of ligand ``types`` [T] at ``points`` [G, 3] from receptor atoms within the cutoff."""
    lo, hi = points.amin(0) - CUTOFF, points.amax(0) + CUTOFF
    keep = ((rec >= lo) & (rec <= hi)).all(dim=1) & (rec_types >= 0)
    rec, rec_types = rec[keep], rec_types[keep]
    out = points.new_zeros(types.shape[0], points.shape[0])
    for start in range(0, points.shape[0], chunk):
        r = torch.cdist(points[start:start + chunk], rec)  # [g, A]
        p, a = (r < CUTOFF).nonzero(as_tuple=True)
        e = pair_energy(r[p, a][None], types[:, None], rec_types[a][None])  # [T, P]
        out[:, start:start + chunk].index_add_(1, p, e)
    return out


def _catmull_rom(values: Tensor, slot: Tensor, u: Tensor) -> Tensor:
    """Tricubic Catmull-Rom interpolation of values [T, X, Y, Z] at fractional grid coordinates
    u [K, N, 3] (kept ≥ 1 and ≤ size − 2 by the padding) for grid slot [N] per atom → [K, N]."""
    sizes = torch.tensor(values.shape[1:], device=u.device)
    base = u.detach().floor().clamp(min=torch.ones_like(sizes), max=sizes - 3)  # [K, N, 3]
    t = u - base
    t2, t3 = t * t, t * t * t
    w = torch.stack([(-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2,
                     (t3 - t2) / 2], dim=-1)  # [K, N, 3, 4]
    idx = base.long()[..., None] + torch.arange(-1, 3, device=u.device)  # [K, N, 3, 4]
    nx, ny, nz = values.shape[1:]
    flat = (((slot[None, :, None, None, None] * nx + idx[:, :, 0, :, None, None]) * ny
             + idx[:, :, 1, None, :, None]) * nz + idx[:, :, 2, None, None, :])  # [K, N, 4, 4, 4]
    gathered = values.reshape(-1)[flat]
    weights = w[:, :, 0, :, None, None] * w[:, :, 1, None, :, None] * w[:, :, 2, None, None, :]
    return (gathered * weights).sum(dim=(-3, -2, -1))
