"""How complex graphs batch: a ``HeteroData`` subclass whose torsion tensors shift correctly.

torch-geometric concatenates node attributes along dim 0 and shifts only keys named ``*index*`` on
edge stores. The ligand's torsion tensors live on the ligand node store, so :class:`ComplexGraph`
tells the batcher how to shift them (``Batch.from_data_list`` keeps the subclass)::

    ligand.rot_edges        [m, 2]  atom indices (u, v)           + ligand atoms of earlier graphs
    ligand.rot_mask_torsion [nnz]   bond of each moving-atom pair  + bonds of earlier graphs
    ligand.rot_mask_atom    [nnz]   atom of each moving-atom pair  + ligand atoms of earlier graphs

(``rot_mask_torsion``/``rot_mask_atom`` are the sparse form of the dense [m, N] masks.)
Per-bond (``rot_*``) and per-atom attributes concatenate along dim 0; graph-level attributes are
stored with a leading dimension 1, so a batch of B graphs holds [B, ...].
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch, HeteroData

from sciffusion.domains.docking.kinematics import TorsionTree, apply_pose, torsion_tree

_SHIFT_BY_ATOMS = ("rot_edges", "rot_mask_atom")


class ComplexGraph(HeteroData):
    """``HeteroData`` of one complex (see :func:`sciffusion.domains.docking.graphs.build_graph`)."""

    def __inc__(self, key: str, value: Any, store=None, *args, **kwargs) -> Any:
        if store is not None and getattr(store, "_key", None) == "ligand":
            if key in _SHIFT_BY_ATOMS:
                return store.num_nodes
            if key == "rot_mask_torsion":
                return store["rot_edges"].shape[0]
        return super().__inc__(key, value, store, *args, **kwargs)


def collate_complexes(graphs: Sequence[ComplexGraph]) -> Batch:
    """One batch of complex graphs (``Batch.from_data_list``); raises ValueError for plain HeteroData,
    whose torsion indices would not shift."""
    for i, graph in enumerate(graphs):
        if not isinstance(graph, ComplexGraph):
            raise ValueError(f"graphs[{i}]: expected a ComplexGraph from build_graph, got {type(graph).__name__}")
    return Batch.from_data_list(list(graphs))


def ligand_torsion_tree(graph: HeteroData, check: bool = True) -> TorsionTree:
    """The torsion tree of the ligand(s) of a graph or batch (compute once per batch, reuse per step)."""
    lig = graph["ligand"]
    return torsion_tree(lig.rot_edges, lig.rot_mask_torsion, lig.rot_mask_atom, lig.num_nodes, check=check)


def ligand_batch(graph: HeteroData) -> tuple[Tensor, int]:
    """(ligand atom → graph index [ΣN], number of graphs B) for a batch or a single graph."""
    lig = graph["ligand"]
    if "batch" in lig:
        return lig.batch, int(graph.num_graphs)
    return torch.zeros(lig.num_nodes, dtype=torch.long, device=lig.pos.device), 1


def move_ligands(graph: HeteroData, translation: Tensor, rotation: Tensor, delta: Tensor,
                 pos: Tensor | None = None, tree: TorsionTree | None = None) -> Tensor:
    """New ligand positions [ΣN, 3] Å of a graph or batch: :func:`kinematics.apply_pose` on its
    ligand tensors. translation [B, 3] Å, rotation [B, 3, 3] or [B, 3] radians, delta [Σm] radians;
    pos: start positions (default ``graph["ligand"].pos``)."""
    lig = graph["ligand"]
    batch, _ = ligand_batch(graph)
    return apply_pose(lig.pos if pos is None else pos, batch, lig.rot_edges, lig.rot_mask_torsion,
                      lig.rot_mask_atom, translation, rotation, delta, tree)
