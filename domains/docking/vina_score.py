"""A differentiable, batched AutoDock-Vina-like scoring function (Trott & Olson 2010, J Comput Chem
31:455, eqs 1-6 and Table 1; numbers checked against AutoDock-Vina 1.2 ``scoring_function.h``,
``potentials.h``, ``vina.h`` ``set_vina_weights`` and ``conf_independent.cpp``).

For heavy atoms i, j with XS types t_i, t_j (:mod:`.vina_types`) at distance r_ij < 8 Å (``cutoff``),
the surface distance is d_ij = r_ij − R(t_i) − R(t_j) (xs van der Waals radii, Å) and

====================  =====================================================  ===========
term                  h(d)                                                   weight
====================  =====================================================  ===========
gauss1                exp(−(d/0.5)²)                                         −0.035579
gauss2                exp(−((d − 3)/2)²)                                     −0.005156
repulsion             d² if d < 0, else 0                                    +0.840245
hydrophobic           1 if d < 0.5; 0 if d > 1.5; linear between             −0.035069
                      (both atoms hydrophobic)
hydrogen bond         1 if d < −0.7; 0 if d > 0; linear between              −0.587439
                      (one donor and one acceptor)
====================  =====================================================  ===========

(the paper rounds the weights to −0.0356, −0.00516, 0.840, −0.0351, −0.587). The intermolecular
energy sums ligand-receptor pairs; the intramolecular energy sums ligand pairs more than three bonds
apart whose distance can change with the torsions (Vina's ``model::initialize_pairs``: 1-4 and
closer pairs and pairs in one rigid fragment are left out). The reported affinity (Vina's
``score_only`` "total") is inter / (1 + w_rot · N_rot), w_rot = 0.05846 (paper: 0.0585), with
N_rot counted as Vina's ``conf_independent_inputs``: a rotatable bond counts ½ for each end whose
partner has more than one heavy neighbour, so 1 between two inner atoms and ½ to a terminal heavy
atom that rotates polar hydrogens (−OH, −NH2, −SH; :func:`vina_rotor_count`).

Energies are kcal/mol, positions Å. Every function is batched over K poses and differentiable;
tensors follow the device of the inputs.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from sciffusion.domains.docking.vina_types import ACCEPTOR, DONOR, HYDROPHOBIC, XS_RADIUS

TERMS: tuple[str, ...] = ("gauss1", "gauss2", "repulsion", "hydrophobic", "hydrogen_bond")
WEIGHTS = torch.tensor([-0.035579, -0.005156, 0.840245, -0.035069, -0.587439], dtype=torch.float64)
"""kcal/mol per unit of each term in :data:`TERMS` (Vina 1.2 ``set_vina_weights`` defaults)."""
ROTOR_WEIGHT = 0.05846
"""w_rot in 1 + w_rot · N_rot (Vina 1.2 ``weight_rot``; paper 0.0585)."""
CUTOFF = 8.0
"""Å: pairs at r ≥ 8 Å do not interact (Vina's ``cutoff``)."""


def pair_terms(r: Tensor, type_i: Tensor, type_j: Tensor) -> Tensor:
    """Unweighted Vina terms for atom pairs: r [...] Å, type_i/type_j [...] long XS types (−1: ignored,
    all terms 0) → [..., 5] in the order of :data:`TERMS`; zero at r ≥ :data:`CUTOFF`."""
    valid = (type_i >= 0) & (type_j >= 0) & (r < CUTOFF)
    ti, tj = type_i.clamp(min=0), type_j.clamp(min=0)
    radius = XS_RADIUS.to(device=r.device, dtype=r.dtype)
    d = r - radius[ti] - radius[tj]
    hydrophobic = HYDROPHOBIC.to(r.device)
    donor, acceptor = DONOR.to(r.device), ACCEPTOR.to(r.device)
    hbond_pair = (donor[ti] & acceptor[tj]) | (donor[tj] & acceptor[ti])
    terms = torch.stack([
        torch.exp(-(d / 0.5) ** 2),
        torch.exp(-((d - 3.0) / 2.0) ** 2),
        torch.where(d < 0, d * d, torch.zeros_like(d)),
        torch.where(hydrophobic[ti] & hydrophobic[tj], ((1.5 - d) / 1.0).clamp(0.0, 1.0), torch.zeros_like(d)),
        torch.where(hbond_pair, (-d / 0.7).clamp(0.0, 1.0), torch.zeros_like(d)),
    ], dim=-1)
    return terms * valid.unsqueeze(-1).to(r.dtype)


def pair_energy(r: Tensor, type_i: Tensor, type_j: Tensor) -> Tensor:
    """Weighted Vina energy of atom pairs, [...] kcal/mol (see :func:`pair_terms`)."""
    return pair_terms(r, type_i, type_j) @ WEIGHTS.to(device=r.device, dtype=r.dtype)


def _check_poses(pos: Tensor, types: Tensor, what: str) -> None:
    if pos.dim() != 3 or pos.shape[-1] != 3:
        raise ValueError(f"{what}: pos must be [K, N, 3], got {tuple(pos.shape)}")
    if types.shape != (pos.shape[1],):
        raise ValueError(f"{what}: ligand types must be [{pos.shape[1]}], got {tuple(types.shape)}")


def inter_terms_direct(pos: Tensor, ligand_types: Tensor, receptor_pos: Tensor, receptor_types: Tensor,
                       chunk: int = 8) -> Tensor:
    """Intermolecular terms by direct pair sums (no grid): pos [K, N, 3] Å, ligand_types [N],
    receptor_pos [A, 3] Å, receptor_types [A] → [K, 5] unweighted term sums (order of :data:`TERMS`).
    Receptor atoms farther than the cutoff from every pose are dropped first."""
    _check_poses(pos, ligand_types, "direct Vina score")
    if receptor_pos.dim() != 2 or receptor_pos.shape[-1] != 3 or receptor_types.shape != receptor_pos.shape[:1]:
        raise ValueError(f"direct Vina score: receptor pos [A, 3] and types [A] needed, got "
                         f"{tuple(receptor_pos.shape)} and {tuple(receptor_types.shape)}")
    rec = receptor_pos.to(device=pos.device, dtype=pos.dtype)
    rec_types = receptor_types.to(pos.device)
    lo, hi = pos.detach().reshape(-1, 3).amin(0) - CUTOFF, pos.detach().reshape(-1, 3).amax(0) + CUTOFF
    near = ((rec >= lo) & (rec <= hi)).all(dim=1) & (rec_types >= 0)
    rec, rec_types = rec[near], rec_types[near]
    lig_types = ligand_types.to(pos.device)
    out = []
    for start in range(0, pos.shape[0], chunk):
        part = pos[start:start + chunk]
        r = (part[:, :, None, :] - rec[None, None]).norm(dim=-1)  # [k, N, A]
        terms = pair_terms(r, lig_types[None, :, None], rec_types[None, None, :])
        out.append(terms.sum(dim=(1, 2)))
    return torch.cat(out) if out else pos.new_zeros(0, len(TERMS))


def inter_energy_direct(pos: Tensor, ligand_types: Tensor, receptor_pos: Tensor, receptor_types: Tensor) -> Tensor:
    """Intermolecular energy [K] kcal/mol by direct pair sums (:func:`inter_terms_direct`)."""
    terms = inter_terms_direct(pos, ligand_types, receptor_pos, receptor_types)
    return terms @ WEIGHTS.to(device=terms.device, dtype=terms.dtype)


def intramolecular_pairs(mol, rot_mask: Tensor) -> Tensor:
    """Ligand atom pairs Vina scores intramolecularly, [P, 2] int64 (i < j): more than three bonds apart
    and in different rigid fragments (some rotatable bond in ``rot_mask`` [m, N] bool moves one and
    not the other). Hydrogens are never paired."""
    from rdkit import Chem

    n = mol.GetNumAtoms()
    if rot_mask.shape[-1] != n:
        raise ValueError(f"intramolecular pairs: rot_mask has {rot_mask.shape[-1]} atoms, the molecule {n}")
    hops = torch.as_tensor(Chem.GetDistanceMatrix(mol))
    heavy = torch.tensor([a.GetAtomicNum() > 1 for a in mol.GetAtoms()])
    moving = rot_mask.to(torch.bool)
    variable = (moving[:, :, None] != moving[:, None, :]).any(dim=0) if moving.shape[0] else torch.zeros(n, n, dtype=torch.bool)
    keep = (hops > 3) & variable & heavy[:, None] & heavy[None, :]
    keep = torch.triu(keep, diagonal=1)
    return keep.nonzero().to(torch.long).reshape(-1, 2)


def intra_terms(pos: Tensor, ligand_types: Tensor, pairs: Tensor) -> Tensor:
    """Intramolecular terms: pos [K, N, 3] Å, ligand_types [N], pairs [P, 2] → [K, 5] term sums."""
    _check_poses(pos, ligand_types, "intramolecular Vina score")
    pairs = pairs.to(pos.device)
    types = ligand_types.to(pos.device)
    r = (pos[:, pairs[:, 0]] - pos[:, pairs[:, 1]]).norm(dim=-1)  # [K, P]
    return pair_terms(r, types[pairs[:, 0]][None], types[pairs[:, 1]][None]).sum(dim=1)


def intramolecular(pos: Tensor, ligand_types: Tensor, pairs: Tensor) -> Tensor:
    """Intramolecular energy [K] kcal/mol over ``pairs`` [P, 2] (:func:`intramolecular_pairs`)."""
    terms = intra_terms(pos, ligand_types, pairs)
    return terms @ WEIGHTS.to(device=terms.device, dtype=terms.dtype)


def vina_rotor_count(mol, rot_edges: Tensor) -> float:
    """N_rot of Vina's normalisation: every bond of ``rot_edges`` [m, 2] (rotatable, both ends with
    another heavy neighbour) counts 1; a non-ring single bond from an atom with another heavy neighbour
    to a terminal N, O or S carrying hydrogens counts ½ (Vina counts ½ per end whose partner has more
    than one heavy neighbour; Meeko makes such polar-H rotors torsions), except amide/thioamide C–N,
    which Meeko keeps rigid."""
    from rdkit import Chem

    count = float(rot_edges.shape[0])
    rigid_amide = {frozenset(m[:2]) for m in mol.GetSubstructMatches(Chem.MolFromSmarts("[NX3]-[CX3]=[O,S,N]"))}
    for bond in mol.GetBonds():
        if bond.GetBondType() != Chem.BondType.SINGLE or bond.IsInRing():
            continue
        for end, other in ((bond.GetBeginAtom(), bond.GetEndAtom()), (bond.GetEndAtom(), bond.GetBeginAtom())):
            terminal_polar = end.GetSymbol() in ("N", "O", "S") and end.GetDegree() == 1 and end.GetTotalNumHs() > 0
            if terminal_polar and other.GetDegree() > 1 and frozenset((end.GetIdx(), other.GetIdx())) not in rigid_amide:
                count += 0.5
    return count


def vina_score(pos: Tensor, ligand_types: Tensor, pairs: Tensor, rotors: float, grid=None,
               receptor_pos: Optional[Tensor] = None, receptor_types: Optional[Tensor] = None) -> dict[str, Tensor]:
    """Vina-like score of K poses: pos [K, N, 3] Å, ligand_types [N], intramolecular pairs [P, 2],
    N_rot ``rotors``; the intermolecular part from a :class:`~.vina_grid.VinaGrid` ``grid``, or by
    direct sums over ``receptor_pos`` [A, 3] / ``receptor_types`` [A].

    Returns {``inter``, ``intra``, ``total_normalised`` = inter / (1 + 0.05846 · N_rot)}, each [K] kcal/mol.
    """
    if rotors < 0:
        raise ValueError(f"rotors: must be >= 0, got {rotors}")
    if grid is not None:
        inter = grid.energy(pos, ligand_types)
    elif receptor_pos is not None and receptor_types is not None:
        inter = inter_energy_direct(pos, ligand_types, receptor_pos, receptor_types)
    else:
        raise ValueError("vina score: give a grid or receptor_pos and receptor_types")
    intra = intramolecular(pos, ligand_types, pairs)
    return {"inter": inter, "intra": intra, "total_normalised": inter / (1.0 + ROTOR_WEIGHT * rotors)}
