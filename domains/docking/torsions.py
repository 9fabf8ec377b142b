"""Ligand flexibility: rotatable bonds, torsion updates and rigid moves (torch, any float dtype).

A rotatable bond is a non-ring single bond whose two atoms each have at least one other heavy
neighbour. A torsion update about bond (u, v) rotates the smaller side (the side holding v, after
swapping u and v if needed) about the u->v axis, so that bond lengths and angles are preserved and
only dihedrals about that bond change.
Ideas after DiffDock ``utils/torsion.py`` (Corso et al. 2023); own implementation.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def rotatable_bonds(mol) -> tuple[Tensor, Tensor]:
    """Rotatable bonds of a heavy-atom RDKit Mol.

    Returns ``edges`` [n_rot, 2] int64 (u, v) and ``mask`` [n_rot, N] bool: the atoms that move
    (v's side, the smaller side; ties keep the bond's second atom side).
    """
    n = mol.GetNumAtoms()
    neighbours = [[a.GetIdx() for a in atom.GetNeighbors() if a.GetAtomicNum() > 1] for atom in mol.GetAtoms()]
    edges, masks = [], []
    for bond in mol.GetBonds():
        if bond.IsInRing() or bond.GetBondTypeAsDouble() != 1.0:
            continue
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if mol.GetAtomWithIdx(u).GetAtomicNum() <= 1 or mol.GetAtomWithIdx(v).GetAtomicNum() <= 1:
            continue
        if len(neighbours[u]) < 2 or len(neighbours[v]) < 2:
            continue
        side = _side(mol, u, v)
        if side.sum() > n - side.sum():
            u, v = v, u
            side = _side(mol, u, v)
        edges.append((u, v))
        masks.append(side)
    if not edges:
        return torch.zeros((0, 2), dtype=torch.long), torch.zeros((0, n), dtype=torch.bool)
    return torch.tensor(edges, dtype=torch.long), torch.stack(masks)


def _side(mol, u: int, v: int) -> Tensor:
    """Atoms reachable from v without crossing bond (u, v), as a [N] bool mask (includes v)."""
    seen = torch.zeros(mol.GetNumAtoms(), dtype=torch.bool)
    stack = [v]
    seen[v] = True
    while stack:
        atom = stack.pop()
        for nb in mol.GetAtomWithIdx(atom).GetNeighbors():
            j = nb.GetIdx()
            if atom == v and j == u or seen[j]:
                continue
            seen[j] = True
            stack.append(j)
    return seen


def axis_angle_to_matrix(axis: Tensor, angle: Tensor) -> Tensor:
    """Rodrigues rotation matrix [3, 3] for a unit ``axis`` [3] and ``angle`` (scalar, radians)."""
    x, y, z = axis
    zero = torch.zeros((), dtype=axis.dtype)
    k = torch.stack([torch.stack([zero, -z, y]), torch.stack([z, zero, -x]), torch.stack([-y, x, zero])])
    eye = torch.eye(3, dtype=axis.dtype)
    return eye + torch.sin(angle) * k + (1 - torch.cos(angle)) * (k @ k)


def apply_torsion_updates(pos: Tensor, edges: Tensor, mask: Tensor, delta: Tensor) -> Tensor:
    """Rotate each bond's moving side by ``delta`` in turn; returns new positions (input untouched).

    pos: [N, 3], Å. edges: [n_rot, 2]. mask: [n_rot, N] bool. delta: [n_rot], radians.
    """
    if delta.shape != (edges.shape[0],):
        raise ValueError(f"delta: expected shape ({edges.shape[0]},), got {tuple(delta.shape)}")
    pos = pos.clone()
    for k in range(edges.shape[0]):
        u, v = int(edges[k, 0]), int(edges[k, 1])
        axis = pos[v] - pos[u]
        norm = axis.norm()
        if norm < 1e-8:
            raise ValueError(f"bond ({u}, {v}): zero length, cannot define a torsion axis")
        rot = axis_angle_to_matrix(axis / norm, delta[k].to(pos.dtype))
        moving = mask[k]
        pos[moving] = (pos[moving] - pos[v]) @ rot.T + pos[v]
    return pos


def dihedral(pos: Tensor, a: int, b: int, c: int, d: int) -> Tensor:
    """Dihedral angle a-b-c-d in radians, (-pi, pi]."""
    b0, b1, b2 = pos[a] - pos[b], pos[c] - pos[b], pos[d] - pos[c]
    b1n = b1 / b1.norm()
    v = b0 - (b0 @ b1n) * b1n
    w = b2 - (b2 @ b1n) * b1n
    x = v @ w
    y = torch.linalg.cross(b1n, v) @ w
    return torch.atan2(y, x)


def wrap_angle(angle: Tensor) -> Tensor:
    """Map radians onto (-pi, pi]."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def rigid_move(pos: Tensor, rotation: Tensor, translation: Tensor) -> Tensor:
    """Rotate ``pos`` [N, 3] about its centroid by ``rotation`` [3, 3] and shift by ``translation`` [3] (Å)."""
    centre = pos.mean(dim=0, keepdim=True)
    return (pos - centre) @ rotation.T + centre + translation


def random_rotation(dtype: torch.dtype = torch.float64, generator: torch.Generator | None = None) -> Tensor:
    """A uniformly random proper rotation [3, 3] (QR of a Gaussian matrix, det +1)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, dtype=dtype, generator=generator))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q
