"""PoseBusters' "minimum distance to protein" criterion in torch: the smallest ligand–receptor heavy-atom
distance as a fraction of the pair's radii sum, and a smooth penalty that keeps refined poses above it.

PoseBusters (Buttenschoen et al. 2024, ``redock``/``dock`` configs, check ``intermolecular_distance``)
fails a pose when any ligand heavy atom is closer to a protein heavy atom than ``clash_cutoff`` = 0.75 ×
the sum of their van der Waals radii (covalent radii for inorganic cofactors such as metal ions).
The Vina-like score lets hydrogen-bonding and metal-coordinating pairs come closer than that (its
repulsion starts at the XS radii and is weak), so refined poses can fail the check while scoring well.
:func:`contact_penalty_fn` adds ``weight`` · Σ relu(``target`` · (r_i + r_j) − d_ij)² (kcal/mol Å⁻²) to the
refinement objective; :func:`min_distance_ratio` reports the criterion per pose. Radii come from RDKit's
periodic table (as PoseBusters takes them).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

PB_CLASH_CUTOFF = 0.75
"""PoseBusters' ``clash_cutoff``: fail below this fraction of the radii sum."""
TARGET_RATIO = 0.8
"""Distance, as a fraction of the radii sum, below which the refinement penalty acts (a margin above
:data:`PB_CLASH_CUTOFF`)."""
PENALTY_WEIGHT = 10.0
"""kcal/mol per Å² of violation: strong next to the Vina-like terms' ~1 kcal/mol per contact."""
METALS = frozenset({"LI", "NA", "K", "MG", "CA", "MN", "FE", "CO", "NI", "CU", "ZN", "CD", "HG", "SR", "BA"})


def element_radii(symbols: Sequence[str], kind: str = "vdw") -> Tensor:
    """[A] float64 Å: RDKit's van der Waals (``kind="vdw"``) or covalent (``"covalent"``) radius of each
    element symbol (any case)."""
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    get = table.GetRvdw if kind == "vdw" else table.GetRcovalent
    return torch.tensor([get(symbol.strip().capitalize()) for symbol in symbols], dtype=torch.float64)


def pair_radii(ligand_symbols: Sequence[str], receptor_symbols: Sequence[str]) -> Tensor:
    """[N, A] float64 Å: the radii sum PoseBusters compares each ligand–receptor pair with: van der Waals
    radii, or covalent radii of both atoms when the receptor atom is a metal ion (:data:`METALS`, which
    PoseBusters checks as inorganic cofactors)."""
    metal = torch.tensor([s.strip().upper() in METALS for s in receptor_symbols], dtype=torch.bool)
    vdw = element_radii(ligand_symbols)[:, None] + element_radii(receptor_symbols)[None, :]
    cov = element_radii(ligand_symbols, "covalent")[:, None] + element_radii(receptor_symbols, "covalent")[None, :]
    return torch.where(metal[None, :], cov, vdw)


def min_distance_ratio(pos: Tensor, rec_pos: Tensor, radii: Tensor) -> Tensor:
    """[K] float64: smallest ligand–receptor distance over the pair's radii sum of each pose (PoseBusters
    fails a pose below :data:`PB_CLASH_CUTOFF`); +inf with no receptor atoms. pos [K, N, 3] Å, rec_pos
    [A, 3] Å, radii [N, A] Å (:func:`pair_radii`)."""
    if rec_pos.shape[0] == 0:
        return torch.full((pos.shape[0],), float("inf"), dtype=torch.float64)
    with torch.no_grad():
        d = torch.cdist(pos.to(torch.float64), rec_pos.to(torch.float64)[None].expand(pos.shape[0], -1, -1))
        return (d / radii[None]).amin(dim=(1, 2))


def contact_penalty_fn(rec_pos: Tensor, radii: Tensor, target: float = TARGET_RATIO,
                       weight: float = PENALTY_WEIGHT) -> Callable[[Tensor], Tensor]:
    """pos [K, N, 3] Å → [K] kcal/mol: ``weight`` · Σ_ij relu(target · radii_ij − d_ij)², differentiable;
    zero for every pose that keeps all pairs at ``target`` or more of their radii sum (radii [N, A] Å,
    :func:`pair_radii`)."""
    rec_pos = rec_pos.to(torch.float64)
    limit = target * radii.to(torch.float64)  # [N, A] Å

    def penalty(pos: Tensor) -> Tensor:
        if rec_pos.shape[0] == 0:
            return torch.zeros(pos.shape[0], dtype=pos.dtype, device=pos.device)
        d = torch.cdist(pos.to(torch.float64), rec_pos[None].expand(pos.shape[0], -1, -1))
        return weight * torch.relu(limit[None] - d).pow(2).sum(dim=(1, 2)).to(pos.dtype)

    return penalty


__all__ = ["METALS", "PB_CLASH_CUTOFF", "PENALTY_WEIGHT", "TARGET_RATIO", "contact_penalty_fn", "element_radii",
           "min_distance_ratio", "pair_radii"]
