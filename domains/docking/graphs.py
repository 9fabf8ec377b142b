"""Complex tensors (what ``docking prepare`` saves) and the torch-geometric ``HeteroData`` built from them.

:func:`complex_tensors` needs RDKit/gemmi objects; :func:`build_graph` needs torch and
torch-geometric only, so training reads the cache without chemistry toolkits.

Tensor dict layout (all positions in Å, float32)::

    ligand:     x [N, 7] int64 (see features.LIGAND_ATOM_FEATURES), pos [N, 3] (crystal / input pose),
                bond_index [2, 2B], bond_type [2B], rot_edges [m, 2] (u, v; v moves),
                rot_mask [m, N] bool (moving side), rot_dihedrals [m, 4] (a, u, v, d per bond)
    receptor:   type [R] int64, pos [R, 3] (Cα), side_chain_vecs [R, 3, 3], residue_index [R]
    atoms:      element [A] int64, pos [A, 3], residue_index [A]      (only with include_atoms)
    pocket:     center [3], size [3]
    conformers: (only when prepared with conformers, see conformers.conformer_targets)
                pos [K, N, 3], torsion_delta [K, m] rad, rotation [K, 3, 3], translation [K, 3],
                rmsd_rigid [K], rmsd_matched [K] Å, seed [K] int64
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
from sciffusion.domains.docking.torsions import dihedral_quadruples, rotatable_bonds


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
        "rot_dihedrals": dihedral_quadruples(mol, rot_edges),
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


def build_graph(tensors: dict, config: GraphConfig = GraphConfig(), conformer: int | None = None):
    """A :class:`~sciffusion.domains.docking.collate.ComplexGraph` (``HeteroData`` that batches with
    ``Batch.from_data_list``) with node types ``ligand``, ``receptor`` (and ``atom`` when present).

    Edge types: (ligand, bond, ligand) with ``edge_attr`` bond codes; (ligand, radius, ligand);
    (receptor, radius, receptor); (ligand, radius, receptor) and its reverse; with atoms also
    (atom, radius, atom), (ligand, radius, atom) and reverse, (atom, in, receptor).

    Ligand torsions: ``rot_edges`` [m, 2], the sparse moving sides ``rot_mask_torsion``,
    ``rot_mask_atom`` [nnz] (shifted on batching, see collate.py). Graph level: ``pocket_center``,
    ``pocket_size`` [1, 3] Å. conformer: also put conformer k of the cache on the graph:
    ``ligand.conformer_pos`` [N, 3] Å, ``ligand.rot_conformer_delta`` [m] rad, ``conformer_rotation``
    [1, 3, 3], ``conformer_translation`` [1, 3] Å (the change taking the conformer onto the crystal pose).
    """
    from sciffusion.domains.docking.collate import ComplexGraph
    from sciffusion.domains.docking.kinematics import mask_to_index

    lig, rec = tensors["ligand"], tensors["receptor"]
    kw = {"chunk_size": config.chunk_size, "max_neighbors": config.max_neighbors}
    data = ComplexGraph()
    data["ligand"].x, data["ligand"].pos = lig["x"], lig["pos"]
    data["ligand"].rot_edges = lig["rot_edges"]
    data["ligand"].rot_mask_torsion, data["ligand"].rot_mask_atom = mask_to_index(lig["rot_mask"])
    if conformer is not None:
        _put_conformer(data, tensors, conformer)
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
    data.pocket_center = tensors["pocket"]["center"].reshape(1, 3)
    data.pocket_size = tensors["pocket"]["size"].reshape(1, 3)
    return data


def _put_conformer(data, tensors: dict, k: int) -> None:
    """Conformer ``k`` of the cache entry and its change onto the crystal pose, on the graph."""
    confs = tensors.get("conformers")
    count = 0 if confs is None else confs["pos"].shape[0]
    if not 0 <= k < count:
        raise ValueError(f"conformer: index {k} out of range, the entry has {count} conformer(s)")
    data["ligand"].conformer_pos = confs["pos"][k]
    data["ligand"].rot_conformer_delta = confs["torsion_delta"][k]
    data.conformer_rotation = confs["rotation"][k].reshape(1, 3, 3)
    data.conformer_translation = confs["translation"][k].reshape(1, 3)


def _atom_to_residue(atom_residue: torch.Tensor, residue_index: torch.Tensor) -> torch.Tensor:
    """Edges atom -> residue node for atoms whose residue is an amino-acid node."""
    lookup = torch.full((int(max(atom_residue.max(), residue_index.max())) + 1,), -1, dtype=torch.long)
    lookup[residue_index] = torch.arange(residue_index.shape[0])
    target = lookup[atom_residue]
    keep = target >= 0
    return torch.stack([torch.nonzero(keep).flatten(), target[keep]])
