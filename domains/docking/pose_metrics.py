"""Per-pose metrics: symmetry-corrected heavy-atom RMSD without re-alignment, centroid distance,
PoseBusters ``redock`` checks.

RMSD: RDKit ``rdMolAlign.CalcRMS`` (symmetry via substructure matches, no alignment); when the
predicted molecule's bond orders/charges differ from the reference (no substructure match), spyrmsd
on element + connectivity graphs is used instead (also without alignment or centring).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RMSD_CHECK_PREFIX = "rmsd"
PB_STATUS_COLUMNS = ("mol_pred_loaded", "mol_true_loaded", "mol_cond_loaded")


def clean_pose(mol):
    """Heavy-atom, single-conformer, property-free copy (what PoseBusters 0.6.5 needs)."""
    from rdkit import Chem

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
    return Chem.RemoveHs(out, sanitize=False)


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


def posebusters_checks(poses: list, ref, protein_pdb: Path) -> list[tuple[bool, str]]:
    """PoseBusters ``redock`` checks for each pose: (PB-valid, ``;``-joined failed checks).

    PB-valid means every boolean check except the RMSD one passed (PoseBusters-paper convention).
    """
    from posebusters import PoseBusters

    if not poses:
        return []
    frame = PoseBusters(config="redock").bust([clean_pose(p) for p in poses], clean_pose(ref), str(protein_pdb))
    frame = frame.reset_index(drop=True)
    checks = [c for c in frame.columns if frame[c].dtype == bool and not c.lower().startswith(RMSD_CHECK_PREFIX)]
    if len(frame) != len(poses):
        raise ValueError(f"PoseBusters returned {len(frame)} rows for {len(poses)} poses")
    out = []
    for _, row in frame.iterrows():
        failed = [c for c in checks if not bool(row[c])]
        out.append((not failed, ";".join(failed)))
    return out
