"""Batched, differentiable ligand pose kinematics: torsion updates, then a rigid move (torch only).

A pose change of ligand b is (translation t_b [3] Å, rotation R_b [3, 3] or rotation vector [3]
radians, torsion changes δ [m_b] radians). Convention::

    x' = R_b (τ(x) − c_b) + c_b + t_b,      c_b = centroid of τ(x) (unweighted mean of the atoms)

where τ applies the torsion changes: bond k = (u, v) rotates its moving side (the atoms of its mask,
holding v) by δ_k about the axis u → v (right hand). So the centroid after the move is c_b + t_b.

Torsion tree. The moving sides of one ligand must be nested or disjoint (true for the smaller-side
masks of :func:`sciffusion.domains.docking.torsions.rotatable_bonds`): then bond j is an ancestor of
bond k when v_k moves with j, one fragment never moves, and applying the torsion changes one by one
about the *current* bond axes (DiffDock's sequential scheme, Corso et al. 2023) gives the same
pose in every order. Applying them deepest first, every axis is still at its input position, so
each bond's rotation T_k (about its input axis) is known up front; an atom's new position is
C_owner x with C_k = C_parent(k) ∘ T_k composed from the root down, one tensor step per tree
level (the only loop), and owner = the deepest bond whose side holds the atom.

Flat layout for a batch of B ligands of different sizes (as torch-geometric concatenates them)::

    pos [ΣN, 3] Å, batch [ΣN] (ligand of each atom), edges [Σm, 2] (u, v) into pos,
    mask_torsion [nnz], mask_atom [nnz]: atom mask_atom[i] moves with bond mask_torsion[i]
    (the sparse form of the dense masks [m, N]), delta [Σm] radians.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sciffusion.common.manifolds.so3 import exp_map
from sciffusion.common.training.precision import full_precision


@dataclass(frozen=True)
class TorsionTree:
    """Nesting of the moving sides. parent [m] (enclosing bond, −1 at the top), depth [m] (number of
    enclosing bonds), owner [ΣN] (deepest bond moving the atom, −1: never moves), max_depth."""

    parent: Tensor
    depth: Tensor
    owner: Tensor
    max_depth: int


def mask_to_index(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Dense moving-side masks [m, N] bool → sparse (mask_torsion [nnz], mask_atom [nnz]) int64."""
    torsion, atom = torch.nonzero(mask, as_tuple=True)
    return torsion, atom


def torsion_tree(edges: Tensor, mask_torsion: Tensor, mask_atom: Tensor, num_atoms: int,
                 check: bool = True) -> TorsionTree:
    """The torsion tree of flat rotatable bonds (vectorised; any number of ligands).

    edges: [m, 2] (u, v) atom indices. mask_torsion, mask_atom: [nnz] sparse moving-side masks.
    num_atoms: ΣN. check: raise ValueError when the masks are not a rooted tree (a bond listed
    twice, a side without its v or with its u, sides that overlap without nesting).
    """
    m, device = edges.shape[0], edges.device
    if m == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return TorsionTree(empty, empty, torch.full((num_atoms,), -1, dtype=torch.long, device=device), 0)
    u, v = edges[:, 0], edges[:, 1]
    torsion_of_v = torch.full((num_atoms,), -1, dtype=torch.long, device=device)
    torsion_of_v[v] = torch.arange(m, device=device)
    desc = torsion_of_v[mask_atom]  # the bond whose v this atom is (or -1)
    is_anc = (desc >= 0) & (desc != mask_torsion)
    anc_of, anc = desc[is_anc], mask_torsion[is_anc]  # bond anc encloses bond anc_of
    depth = torch.zeros(m, dtype=torch.long, device=device).index_add_(0, anc_of, torch.ones_like(anc_of))
    parent = _argmax_by_depth(anc_of, anc, depth, m)
    owner = _argmax_by_depth(mask_atom, mask_torsion, depth, num_atoms)
    if check:
        own_v = (mask_atom == v[mask_torsion]).sum()
        own_u = (mask_atom == u[mask_torsion]).sum()
        count = torch.zeros(num_atoms, dtype=torch.long, device=device).index_add_(
            0, mask_atom, torch.ones_like(mask_atom))
        moved = owner >= 0
        if (torch.unique(v).numel() != m or own_v != m or own_u != 0
                or (depth[parent.clamp_min(0)][parent >= 0] != depth[parent >= 0] - 1).any()
                or (count[moved] != depth[owner[moved]] + 1).any()):
            raise ValueError("rotatable bonds: moving sides are not a rooted torsion tree (each side must hold "
                             "its bond's v but not u, and sides must be nested or disjoint)")
    return TorsionTree(parent, depth, owner, int(depth.max()))


def _argmax_by_depth(target: Tensor, candidate: Tensor, depth: Tensor, size: int) -> Tensor:
    """For each target slot, the candidate bond of largest depth (−1 when none); [size] int64."""
    m = depth.shape[0]
    key = torch.full((size,), -1, dtype=torch.long, device=depth.device)
    key = key.scatter_reduce(0, target, depth[candidate] * m + candidate, reduce="amax", include_self=True)
    return torch.where(key >= 0, key % m, key)


def bond_rotations(pos: Tensor, edges: Tensor, delta: Tensor) -> tuple[Tensor, Tensor]:
    """Rigid transforms x ↦ R x + t of each bond's rotation by δ about its axis u → v through v.

    pos [ΣN, 3] Å, edges [m, 2], delta [m] radians → R [m, 3, 3], t [m, 3] Å.
    """
    p_u, p_v = pos[edges[:, 0]], pos[edges[:, 1]]
    axis = p_v - p_u
    norm = axis.norm(dim=-1, keepdim=True)
    if (norm < 1e-8).any():
        raise ValueError("rotatable bonds: a bond has zero length, it defines no torsion axis")
    rot = exp_map(axis / norm * delta.to(pos.dtype)[:, None])
    return rot, p_v - torch.einsum("mij,mj->mi", rot, p_v)


def apply_torsions(pos: Tensor, edges: Tensor, mask_torsion: Tensor, mask_atom: Tensor, delta: Tensor,
                   tree: TorsionTree | None = None) -> Tensor:
    """Apply torsion changes δ [m] (radians) to flat positions [ΣN, 3] Å; returns new positions.

    Same result as rotating each bond's moving side in turn about its current axis (any order).
    tree: precomputed :func:`torsion_tree` (else built and checked here).
    """
    if delta.shape != (edges.shape[0],):
        raise ValueError(f"delta: expected shape ({edges.shape[0]},), got {tuple(delta.shape)}")
    if edges.shape[0] == 0:
        return pos.clone()
    if tree is None:
        tree = torsion_tree(edges, mask_torsion, mask_atom, pos.shape[0])
    rot, shift = bond_rotations(pos, edges, delta)
    parent = tree.parent.clamp_min(0)
    for level in range(1, tree.max_depth + 1):  # C_k = C_parent ∘ T_k, one tree level at a time
        here = (tree.depth == level)
        rot = torch.where(here[:, None, None], rot[parent] @ rot, rot)
        shift = torch.where(here[:, None], torch.einsum("mij,mj->mi", rot[parent], shift) + shift[parent], shift)
    moved = tree.owner >= 0
    owner = tree.owner.clamp_min(0)
    new = torch.einsum("nij,nj->ni", rot[owner], pos) + shift[owner]
    return torch.where(moved[:, None], new, pos)


def rotation_matrices(rotation: Tensor) -> Tensor:
    """[B, 3, 3] matrices as given, or [B, 3] rotation vectors (radians) through the SO(3) exp map."""
    if rotation.dim() == 3 and rotation.shape[1:] == (3, 3):
        return rotation
    if rotation.dim() == 2 and rotation.shape[1] == 3:
        return exp_map(rotation)
    raise ValueError(f"rotation: expected [B, 3, 3] matrices or [B, 3] rotation vectors, got {tuple(rotation.shape)}")


def centroids(pos: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Per-ligand mean position [B, 3] Å of flat positions [ΣN, 3] with ligand index ``batch`` [ΣN]."""
    total = torch.zeros(num_graphs, 3, dtype=pos.dtype, device=pos.device).index_add_(0, batch, pos)
    count = torch.zeros(num_graphs, dtype=pos.dtype, device=pos.device).index_add_(
        0, batch, torch.ones_like(pos[:, 0]))
    if (count == 0).any():
        raise ValueError("batch: a ligand has no atoms")
    return total / count[:, None]


def apply_pose(pos: Tensor, batch: Tensor, edges: Tensor, mask_torsion: Tensor, mask_atom: Tensor,
               translation: Tensor, rotation: Tensor, delta: Tensor, tree: TorsionTree | None = None) -> Tensor:
    """New flat positions [ΣN, 3] Å after torsion changes, then rotation about each ligand's
    centroid, then translation (module docstring).

    pos [ΣN, 3] Å; batch [ΣN] in 0..B−1; edges [Σm, 2]; mask_torsion, mask_atom [nnz];
    translation [B, 3] Å; rotation [B, 3, 3] or [B, 3] rotation vectors; delta [Σm] radians.
    """
    num_graphs = translation.shape[0]
    if translation.shape != (num_graphs, 3):
        raise ValueError(f"translation: expected [B, 3], got {tuple(translation.shape)}")
    rot = rotation_matrices(rotation).to(pos.dtype)
    if rot.shape[0] != num_graphs:
        raise ValueError(f"rotation: {rot.shape[0]} rotations for {num_graphs} translations")
    flex = apply_torsions(pos, edges, mask_torsion, mask_atom, delta, tree)
    centre = centroids(flex, batch, num_graphs)[batch]
    return torch.einsum("nij,nj->ni", rot[batch], flex - centre) + centre + translation.to(pos.dtype)[batch]


def apply_torsion_updates(pos: Tensor, edges: Tensor, mask: Tensor, delta: Tensor) -> Tensor:
    """One ligand: rotate each bond's moving side by ``delta``; returns new positions (input untouched).

    pos: [N, 3], Å. edges: [n_rot, 2]. mask: [n_rot, N] bool. delta: [n_rot], radians.
    """
    return apply_torsions(pos, edges, *mask_to_index(mask), delta)


def rigid_move(pos: Tensor, rotation: Tensor, translation: Tensor) -> Tensor:
    """Rotate ``pos`` [N, 3] about its centroid by ``rotation`` [3, 3] and shift by ``translation`` [3] (Å)."""
    centre = pos.mean(dim=0, keepdim=True)
    return (pos - centre) @ rotation.T + centre + translation


def dihedrals(pos: Tensor, quads: Tensor) -> Tensor:
    """Dihedral angles a-b-c-d, radians in (−π, π], of ``quads`` [K, 4] atom indices into pos [N, 3]."""
    b0 = pos[quads[:, 0]] - pos[quads[:, 1]]
    b1 = pos[quads[:, 2]] - pos[quads[:, 1]]
    b2 = pos[quads[:, 3]] - pos[quads[:, 2]]
    b1n = b1 / b1.norm(dim=-1, keepdim=True)
    v = b0 - (b0 * b1n).sum(-1, keepdim=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdim=True) * b1n
    x = (v * w).sum(-1)
    y = (torch.linalg.cross(b1n, v) * w).sum(-1)
    return torch.atan2(y, x)


def dihedral(pos: Tensor, a: int, b: int, c: int, d: int) -> Tensor:
    """Dihedral angle a-b-c-d in radians, (−π, π] (scalar tensor)."""
    return dihedrals(pos, torch.tensor([[a, b, c, d]], device=pos.device))[0]


@full_precision
def kabsch_rotations(mobile: Tensor, target: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Per ligand, the proper rotation R_b [B, 3, 3] minimising Σ_i |R_b (mobile_i − m̄_b) − (target_i − t̄_b)|²
    (Kabsch 1976): mobile, target [ΣN, 3] Å in the same atom order, ``batch`` [ΣN] ligand of each atom.
    One batched SVD; a ligand with a degenerate (collinear) geometry gets some minimiser, not a unique one.
    Runs outside mixed precision (at least float32: SVD and determinant have no bf16 CPU kernels)."""
    a = mobile - centroids(mobile, batch, num_graphs)[batch]
    b = target - centroids(target, batch, num_graphs)[batch]
    cov = torch.zeros(num_graphs, 3, 3, dtype=mobile.dtype, device=mobile.device).index_add_(
        0, batch, b[:, :, None] * a[:, None, :])
    u, _, vh = torch.linalg.svd(cov)
    sign = torch.sign(torch.det(u @ vh))
    fix = torch.ones(num_graphs, 3, dtype=mobile.dtype, device=mobile.device)
    fix[:, 2] = torch.where(sign == 0, torch.ones_like(sign), sign)
    return u @ torch.diag_embed(fix) @ vh


def kabsch_rotation(mobile: Tensor, target: Tensor) -> Tensor:
    """Proper rotation R [3, 3] minimising Σ |R (mobile_i − m̄) − (target_i − t̄)|² (Kabsch 1976);
    mobile, target: [N, 3] Å, same atom order. One ligand of :func:`kabsch_rotations`."""
    batch = torch.zeros(mobile.shape[0], dtype=torch.long, device=mobile.device)
    return kabsch_rotations(mobile, target, batch, 1)[0]


def torsion_alignments(reference: Tensor, flex: Tensor, batch: Tensor, num_graphs: int,
                       rot_batch: Tensor) -> Tensor:
    """The rotations A_b [B, 3, 3] that undo the rigid part of torsion changes: Kabsch of the
    torsion-changed positions ``flex`` [ΣN, 3] onto ``reference`` [ΣN, 3] (Å), each about its centroid;
    identity for ligands without rotatable bonds (``rot_batch`` [M]: ligand of each bond).

    With A, a torsion change moves no ligand as a whole (DiffDock, Corso et al. 2023, §3.2 and App. A:
    the torsion update is followed by a rigid alignment onto the pre-update pose), so the result does
    not depend on which side of a bond is turned: turning v's side by +δ about u→v and u's side by +δ
    about v→u differ by a rigid motion only, which the alignment removes."""
    eye = torch.eye(3, dtype=flex.dtype, device=flex.device).expand(num_graphs, 3, 3)
    if rot_batch.numel() == 0:
        return eye.clone()
    flexible = torch.zeros(num_graphs, dtype=torch.bool, device=flex.device)
    flexible[rot_batch] = True
    aligned = kabsch_rotations(flex, reference, batch, num_graphs)
    return torch.where(flexible[:, None, None], aligned, eye)
