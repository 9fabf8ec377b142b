"""What the score model reads from a complex graph: one typed bundle of tensors, one reader.

:func:`complex_inputs` is the only place that knows the ``HeteroData`` key names written by
:func:`sciffusion.domains.docking.graphs.build_graph` (and by torch-geometric batching); when the
graph layout changes, only this function changes. Radius edges stored in the graph are **not** read:
the ligand moves during sampling, so the model rebuilds them from the current positions.

Keys read::

    data["ligand"].x [N, 7] int64, .pos [N, 3] Å, .rot_edges [n_rot, 2] int64, .batch [N] (optional)
    data["ligand", "bond", "ligand"].edge_index [2, 2B], .edge_attr [2B] int64 bond codes
    data["receptor"].x [R] int64, .pos [R, 3] Å, .side_chain_vecs [R, 3, 3] Å, .batch [R] (optional)
    data["atom"].x [A] int64, .pos [A, 3] Å, .batch [A]; data["atom", "in", "receptor"].edge_index   (optional)

``rot_edges`` must index the (batched) ligand node set; a single complex needs no shift.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

import torch
from torch import Tensor


@dataclass(frozen=True)
class ComplexInputs:
    """Tensors of ``num_complexes`` complexes, nodes concatenated complex after complex.

    ligand_x: [N, 7] int64 atom feature codes (features.LIGAND_ATOM_FEATURES).
    ligand_pos: [N, 3] current (noised) ligand positions, Å.
    ligand_batch: [N] int64 complex of each ligand atom, in [0, num_complexes).
    bond_index: [2, 2B] int64 ligand bonds, both directions. bond_type: [2B] int64 codes (features.BOND_TYPES).
    rot_edges: [M, 2] int64 rotatable bonds (u, v) as ligand node indices; v on the moving side.
    receptor_x: [R] int64 residue type codes. receptor_pos: [R, 3] Cα positions, Å.
    side_chain_vecs: [R, 3, 3] N−Cα, C−Cα, Cβ−Cα vectors, Å. receptor_batch: [R] int64.
    atom_x, atom_pos, atom_batch: [A], [A, 3] Å, [A] receptor atoms (all None when absent).
    atom_residue: [2, A'] int64 edges (atom, residue node) of atoms in amino-acid residues (None when absent).
    """

    ligand_x: Tensor
    ligand_pos: Tensor
    ligand_batch: Tensor
    bond_index: Tensor
    bond_type: Tensor
    rot_edges: Tensor
    receptor_x: Tensor
    receptor_pos: Tensor
    side_chain_vecs: Tensor
    receptor_batch: Tensor
    num_complexes: int
    atom_x: Optional[Tensor] = None
    atom_pos: Optional[Tensor] = None
    atom_batch: Optional[Tensor] = None
    atom_residue: Optional[Tensor] = None

    def __post_init__(self) -> None:
        n, r = self.ligand_pos.shape[0], self.receptor_pos.shape[0]
        _shape("ligand_pos", self.ligand_pos, (n, 3))
        _shape("ligand_x", self.ligand_x, (n, -1))
        _shape("ligand_batch", self.ligand_batch, (n,))
        _shape("bond_index", self.bond_index, (2, self.bond_type.shape[0]))
        _shape("rot_edges", self.rot_edges, (self.rot_edges.shape[0], 2))
        _shape("receptor_x", self.receptor_x, (r,))
        _shape("side_chain_vecs", self.side_chain_vecs, (r, 3, 3))
        _shape("receptor_batch", self.receptor_batch, (r,))
        if self.num_complexes < 1:
            raise ValueError(f"num_complexes: must be >= 1, got {self.num_complexes}")
        if self.rot_edges.numel() and (self.rot_edges.min() < 0 or self.rot_edges.max() >= n):
            raise ValueError(f"rot_edges: indices must lie in [0, {n}) (ligand nodes), got "
                             f"[{int(self.rot_edges.min())}, {int(self.rot_edges.max())}]")
        for name, batch in (("ligand_batch", self.ligand_batch), ("receptor_batch", self.receptor_batch)):
            if batch.numel() and (batch.min() < 0 or batch.max() >= self.num_complexes):
                raise ValueError(f"{name}: complex ids must lie in [0, {self.num_complexes})")
        atoms = (self.atom_x, self.atom_pos, self.atom_batch, self.atom_residue)
        if any(a is None for a in atoms) and not all(a is None for a in atoms):
            raise ValueError("atom_x, atom_pos, atom_batch, atom_residue: give all four or none")
        if self.atom_pos is not None:
            _shape("atom_pos", self.atom_pos, (self.atom_pos.shape[0], 3))

    @property
    def has_atoms(self) -> bool:
        return self.atom_pos is not None

    @property
    def rot_batch(self) -> Tensor:
        """[M] int64 complex of each rotatable bond."""
        return self.ligand_batch[self.rot_edges[:, 0]]


def _shape(name: str, t: Tensor, expected: tuple[int, ...]) -> None:
    if t.dim() != len(expected) or any(e != -1 and s != e for s, e in zip(t.shape, expected)):
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(t.shape)}")


def _batch(store, n: int) -> Tensor:
    batch = getattr(store, "batch", None)
    return torch.zeros(n, dtype=torch.long) if batch is None else batch


def complex_inputs(data) -> ComplexInputs:
    """Read a (batched) ``HeteroData`` from :func:`~sciffusion.domains.docking.graphs.build_graph`.

    Without ``batch`` vectors the graph is one complex. Receptor atoms are read when the graph has
    an ``atom`` node type.
    """
    lig, rec = data["ligand"], data["receptor"]
    bonds = data["ligand", "bond", "ligand"]
    num = int(getattr(data, "num_graphs", 1))  # a torch-geometric Batch knows it; one HeteroData is one complex
    atoms = {}
    if "atom" in data.node_types:
        atom = data["atom"]
        atoms = {"atom_x": atom.x, "atom_pos": atom.pos, "atom_batch": _batch(atom, atom.pos.shape[0]),
                 "atom_residue": data["atom", "in", "receptor"].edge_index}
    return ComplexInputs(
        ligand_x=lig.x, ligand_pos=lig.pos, ligand_batch=_batch(lig, lig.pos.shape[0]),
        bond_index=bonds.edge_index, bond_type=bonds.edge_attr, rot_edges=lig.rot_edges.reshape(-1, 2),
        receptor_x=rec.x, receptor_pos=rec.pos, side_chain_vecs=rec.side_chain_vecs,
        receptor_batch=_batch(rec, rec.pos.shape[0]), num_complexes=num, **atoms)


def concat_inputs(items: Sequence[ComplexInputs]) -> ComplexInputs:
    """Batch several :class:`ComplexInputs` into one (node indices and complex ids shifted)."""
    if not items:
        raise ValueError("items: need at least one ComplexInputs")
    if len({it.has_atoms for it in items}) > 1:
        raise ValueError("items: either all or none must hold receptor atoms")
    out: dict = {k: [] for k in ("ligand_x", "ligand_pos", "ligand_batch", "bond_index", "bond_type", "rot_edges",
                                 "receptor_x", "receptor_pos", "side_chain_vecs", "receptor_batch")}
    if items[0].has_atoms:
        out.update({k: [] for k in ("atom_x", "atom_pos", "atom_batch", "atom_residue")})
    n_lig = n_rec = n_atom = n_cx = 0
    for it in items:
        for k in out:
            v = getattr(it, k)
            if k in ("bond_index", "rot_edges"):
                v = v + n_lig
            elif k == "atom_residue":
                v = v + torch.tensor([[n_atom], [n_rec]], dtype=v.dtype)
            elif k.endswith("_batch"):
                v = v + n_cx
            out[k].append(v)
        n_lig, n_rec, n_cx = n_lig + it.ligand_pos.shape[0], n_rec + it.receptor_pos.shape[0], n_cx + it.num_complexes
        n_atom += it.atom_pos.shape[0] if it.has_atoms else 0
    dims = {"bond_index": 1, "atom_residue": 1}
    return ComplexInputs(num_complexes=n_cx, **{k: torch.cat(v, dim=dims.get(k, 0)) for k, v in out.items()})


def with_positions(inputs: ComplexInputs, ligand_pos: Tensor, receptor_pos: Optional[Tensor] = None,
                   side_chain_vecs: Optional[Tensor] = None, atom_pos: Optional[Tensor] = None) -> ComplexInputs:
    """A copy with new geometry (the others kept): e.g. a noised ligand pose, or a moved complex."""
    return replace(inputs, ligand_pos=ligand_pos,
                   receptor_pos=inputs.receptor_pos if receptor_pos is None else receptor_pos,
                   side_chain_vecs=inputs.side_chain_vecs if side_chain_vecs is None else side_chain_vecs,
                   atom_pos=inputs.atom_pos if atom_pos is None else atom_pos)
