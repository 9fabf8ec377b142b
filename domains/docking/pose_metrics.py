"""Per-pose metrics: symmetry-corrected heavy-atom RMSD without re-alignment, centroid distance,
PoseBusters ``redock`` checks (``dock`` checks when there is no reference ligand).

RMSD: RDKit ``rdMolAlign.CalcRMS`` (symmetry via substructure matches, no alignment); when the
predicted molecule's bond orders/charges differ from the reference (no substructure match), spyrmsd
on element + connectivity graphs is used instead (also without alignment or centring).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RMSD_CHECK_PREFIX = "rmsd"
PB_STATUS_COLUMNS = ("mol_pred_loaded", "mol_true_loaded", "mol_cond_loaded")


def clean_pose(mol, remove_hs: bool = True):
    """Heavy-atom (all atoms when not ``remove_hs``), single-conformer, property-free copy (what
    PoseBusters 0.6.5 needs). Every hydrogen goes (:func:`~.conformers.strip_hydrogens`), also those
    RDKit's default ``RemoveHs`` keeps (an imine N–H, deuterium), as the docked poses lose them: with
    the default the reference kept them and 16 of 303 train/val complexes could not be scored."""
    from rdkit import Chem

    from sciffusion.domains.docking.conformers import strip_hydrogens

    if mol.GetNumConformers() == 0:
        raise ValueError("pose has no coordinates")
    out = Chem.Mol(mol)
    conf = Chem.Conformer(mol.GetConformer())
    out.RemoveAllConformers()
    out.AddConformer(conf, assignId=True)
    for key in list(out.GetPropNames()):
        out.ClearProp(key)
    for atom in out.GetAtoms():
        for key in list(atom.GetPropNames()):
            atom.ClearProp(key)
    return strip_hydrogens(out, sanitize=False) if remove_hs else out


def pose_rmsd(pred, ref) -> float:
    """Heavy-atom symmetry-corrected RMSD (Å), no re-alignment. ValueError when the molecules differ."""
    from rdkit.Chem import rdMolAlign

    pred, ref = clean_pose(pred), clean_pose(ref)
    if pred.GetNumAtoms() != ref.GetNumAtoms():
        raise ValueError(f"pose has {pred.GetNumAtoms()} heavy atoms, reference {ref.GetNumAtoms()}")
    try:
        return float(rdMolAlign.CalcRMS(pred, ref))
    except RuntimeError:
        return _graph_rmsd(pred, ref)


def _graph_rmsd(pred, ref) -> float:
    from rdkit import Chem
    from spyrmsd import rmsd as sr

    def parts(mol):
        return (mol.GetConformer().GetPositions(), np.array([a.GetAtomicNum() for a in mol.GetAtoms()]),
                Chem.GetAdjacencyMatrix(mol))

    (xp, zp, ap), (xr, zr, ar) = parts(pred), parts(ref)
    try:
        return float(sr.symmrmsd(xr, xp, zr, zp, ar, ap, center=False, minimize=False))
    except Exception as exc:  # spyrmsd raises NonIsomorphicGraphs and others
        raise ValueError(f"pose is not the reference molecule ({type(exc).__name__})") from None


def centroid_distance(pred, ref) -> float:
    """Distance between heavy-atom centroids, Å."""
    a = clean_pose(pred).GetConformer().GetPositions().mean(axis=0)
    b = clean_pose(ref).GetConformer().GetPositions().mean(axis=0)
    return float(np.linalg.norm(a - b))


def posebusters_protein(path: Path):
    """RDKit Mol of a PDB/mmCIF file (plain or ``.gz``) loaded as PoseBusters loads a ``.pdb``
    ``mol_cond`` (unsanitized, hydrogens kept, no proximity bonding); ValueError when RDKit cannot."""
    import gemmi
    from rdkit import Chem

    block = gemmi.read_structure(str(path)).make_pdb_string()
    mol = Chem.MolFromPDBBlock(block, sanitize=False, removeHs=False, proximityBonding=False)
    if mol is None:
        raise ValueError(f"{path}: RDKit could not read the protein for PoseBusters")
    return mol


def posebusters_checks(poses: list, ref, protein_pdb, remove_hs: bool = True) -> list[tuple[bool, str]]:
    """PoseBusters checks for each pose: (PB-valid, ``;``-joined failed checks).

    ref: the true ligand (``redock`` configuration) or None (``dock``: ligand + protein only).
    protein_pdb: a plain ``.pdb`` path or an RDKit Mol (:func:`posebusters_protein`). remove_hs: check
    the heavy atoms only (False: the poses' explicit hydrogens too, as written).
    PB-valid means every boolean check except the RMSD one passed (PoseBusters-paper convention).
    """
    from posebusters import PoseBusters
    from rdkit import Chem

    if not poses:
        return []
    protein = protein_pdb if isinstance(protein_pdb, Chem.Mol) else str(protein_pdb)
    config, true = ("dock", None) if ref is None else ("redock", clean_pose(ref))
    frame = PoseBusters(config=config).bust([clean_pose(p, remove_hs) for p in poses], true, protein)
    frame = frame.reset_index(drop=True)
    checks = [c for c in frame.columns if frame[c].dtype == bool and not c.lower().startswith(RMSD_CHECK_PREFIX)]
    if len(frame) != len(poses):
        raise ValueError(f"PoseBusters returned {len(frame)} rows for {len(poses)} poses")
    out = []
    for _, row in frame.iterrows():
        failed = [c for c in checks if not bool(row[c])]
        out.append((not failed, ";".join(failed)))
    return out
