"""Complex tensors (what ``docking prepare`` saves) and the torch-geometric ``HeteroData`` built from them.

:func:`complex_tensors` needs RDKit/gemmi objects; :func:`build_graph` needs torch and
torch-geometric only, so training reads the cache without chemistry toolkits.

Tensor dict layout (all positions in Å, float32)::

    ligand:   x [N, 7] int64 (see features.LIGAND_ATOM_FEATURES), pos [N, 3],
              bond_index [2, 2B], bond_type [2B], rot_edges [n_rot, 2], rot_mask [n_rot, N] bool
    receptor: type [R] int64, pos [R, 3] (Cα), side_chain_vecs [R, 3, 3], residue_index [R]
    atoms:    element [A] int64, pos [A, 3], residue_index [A]      (only with include_atoms)
    pocket:   center [3], size [3]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sciffusion.domains.docking.features import (
    ligand_atom_features, ligand_bonds, receptor_atom_features, residue_features,
)
from sciffusion.domains.docking.neighbors import radius, radius_graph
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.protein import Protein
from sciffusion.domains.docking.torsions import rotatable_bonds


@dataclass(frozen=True)
class GraphConfig:
    """Radius cutoffs (Å) for the edges of :func:`build_graph`.

    ligand_cutoff: ligand-ligand radius edges (besides bonds). receptor_cutoff: residue-residue (Cα).
    cross_cutoff: ligand atom to residue Cα. atom_cutoff: receptor atom-atom and ligand-atom edges
    (used only when the tensors hold receptor atoms). max_neighbors: cap per node (None = no cap).
    """

    ligand_cutoff: float = 5.0
    receptor_cutoff: float = 15.0
    cross_cutoff: float = 20.0
    atom_cutoff: float = 5.0
    max_neighbors: int | None = 24
    chunk_size: int = 4096

    def __post_init__(self) -> None:
        for name in ("ligand_cutoff", "receptor_cutoff", "cross_cutoff", "atom_cutoff"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0 Å, got {getattr(self, name)}")
        if self.max_neighbors is not None and self.max_neighbors < 1:
            raise ValueError(f"max_neighbors: must be >= 1 or None, got {self.max_neighbors}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size: must be >= 1, got {self.chunk_size}")


def ligand_tensors(mol) -> dict[str, torch.Tensor]:
    """Heavy-atom ligand tensors from an RDKit Mol with a conformer (hydrogens removed first)."""
    from sciffusion.domains.docking.conformers import strip_hydrogens

    mol = strip_hydrogens(mol)
    if mol.GetNumConformers() == 0:
        raise ValueError("ligand: no coordinates (embed a conformer first)")
    bond_index, bond_type = ligand_bonds(mol)
    rot_edges, rot_mask = rotatable_bonds(mol)
    return {
        "x": ligand_atom_features(mol),
        "pos": torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float32),
        "bond_index": bond_index,
        "bond_type": bond_type,
        "rot_edges": rot_edges,
        "rot_mask": rot_mask,
    }


def complex_tensors(protein: Protein, ligand_mol, box: Box, include_atoms: bool = False) -> dict:
    """All tensors of one complex (layout in the module docstring)."""
    receptor = residue_features(protein)
    if receptor["pos"].shape[0] == 0:
        raise ValueError(f"{protein.path}: no amino-acid residues with N, CA and C atoms")
    out = {
        "ligand": ligand_tensors(ligand_mol),
        "receptor": receptor,
        "pocket": {"center": torch.tensor(box.center, dtype=torch.float32),
                   "size": torch.tensor(box.size, dtype=torch.float32)},
    }
    if include_atoms:
        out["atoms"] = receptor_atom_features(protein)
    return out


def build_graph(tensors: dict, config: GraphConfig = GraphConfig()):
    """``HeteroData`` with node types ``ligand``, ``receptor`` (and ``atom`` when present).

    Edge types: (ligand, bond, ligand) with ``edge_attr`` bond codes; (ligand, radius, ligand);
    (receptor, radius, receptor); (ligand, radius, receptor) and its reverse; with atoms also
    (atom, radius, atom), (ligand, radius, atom) and reverse, (atom, in, receptor).
    """
    from torch_geometric.data import HeteroData

    lig, rec = tensors["ligand"], tensors["receptor"]
    kw = {"chunk_size": config.chunk_size, "max_neighbors": config.max_neighbors}
    data = HeteroData()
    data["ligand"].x, data["ligand"].pos = lig["x"], lig["pos"]
    data["ligand"].rot_edges, data["ligand"].rot_mask = lig["rot_edges"], lig["rot_mask"]
    data["receptor"].x, data["receptor"].pos = rec["type"], rec["pos"]
    data["receptor"].side_chain_vecs = rec["side_chain_vecs"]
    data["ligand", "bond", "ligand"].edge_index = lig["bond_index"]
    data["ligand", "bond", "ligand"].edge_attr = lig["bond_type"]
    data["ligand", "radius", "ligand"].edge_index = radius_graph(lig["pos"], config.ligand_cutoff, **kw)
    data["receptor", "radius", "receptor"].edge_index = radius_graph(rec["pos"], config.receptor_cutoff, **kw)
    cross = radius(lig["pos"], rec["pos"], config.cross_cutoff, **kw)
    data["ligand", "radius", "receptor"].edge_index = cross
    data["receptor", "radius", "ligand"].edge_index = cross.flip(0)
    if "atoms" in tensors:
        atoms = tensors["atoms"]
        data["atom"].x, data["atom"].pos = atoms["element"], atoms["pos"]
        data["atom", "radius", "atom"].edge_index = radius_graph(atoms["pos"], config.atom_cutoff, **kw)
        lig_atom = radius(lig["pos"], atoms["pos"], config.atom_cutoff, **kw)
        data["ligand", "radius", "atom"].edge_index = lig_atom
        data["atom", "radius", "ligand"].edge_index = lig_atom.flip(0)
        data["atom", "in", "receptor"].edge_index = _atom_to_residue(atoms["residue_index"], rec["residue_index"])
    data.pocket_center, data.pocket_size = tensors["pocket"]["center"], tensors["pocket"]["size"]
    return data


def _atom_to_residue(atom_residue: torch.Tensor, residue_index: torch.Tensor) -> torch.Tensor:
    """Edges atom -> residue node for atoms whose residue is an amino-acid node."""
    lookup = torch.full((int(max(atom_residue.max(), residue_index.max())) + 1,), -1, dtype=torch.long)
    lookup[residue_index] = torch.arange(residue_index.shape[0])
    target = lookup[atom_residue]
    keep = target >= 0
    return torch.stack([torch.nonzero(keep).flatten(), target[keep]])
