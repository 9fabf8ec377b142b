from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from sciffusion.domains.docking.conformers import with_positions
from sciffusion.domains.docking.pose_metrics import centroid_distance, pose_rmsd


def _moved(mol, shift: float):
    """``mol`` shifted by ``shift`` Å along x (every atom, one conformer)."""
    return with_positions(mol, mol.GetConformer().GetPositions() + [shift, 0.0, 0.0])


def test_rmsd_is_symmetry_corrected_without_alignment():
    mol = Chem.AddHs(Chem.MolFromSmiles("OC(=O)c1ccccc1"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    mol = Chem.RemoveHs(mol)
    # swap the two carboxylate oxygens' coordinates: same pose chemically -> RMSD 0
    swapped = Chem.Mol(mol)
    conf = swapped.GetConformer()
    p0, p2 = conf.GetAtomPosition(0), conf.GetAtomPosition(2)
    conf.SetAtomPosition(0, p2)
    conf.SetAtomPosition(2, p0)
    assert pose_rmsd(swapped, mol) < 0.2  # C=O vs C-O bond orders differ only by label
    assert pose_rmsd(_moved(mol, 2.0), mol) == pytest.approx(2.0, abs=1e-6)  # no re-alignment
    assert centroid_distance(_moved(mol, 3.0), mol) == pytest.approx(3.0, abs=1e-6)


def test_different_molecules_are_an_error():
    a, b = Chem.MolFromSmiles("CCO"), Chem.MolFromSmiles("CCCO")
    for mol in (a, b):
        AllChem.EmbedMolecule(mol, randomSeed=1)
    with pytest.raises(ValueError, match="pose has 3 heavy atoms, reference 4"):
        pose_rmsd(a, b)


def test_hydrogens_rdkit_keeps_do_not_break_the_rmsd():
    """A reference with a deuterium (kept by RDKit's default RemoveHs) against the heavy-atom pose a
    dock writes: same heavy atoms, RMSD 0 (16 train/val complexes failed this way before)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    ref = Chem.AddHs(Chem.MolFromSmiles("[2H]OC(=O)c1ccccc1"))
    AllChem.EmbedMolecule(ref, randomSeed=0)
    assert any(a.GetAtomicNum() == 1 for a in Chem.RemoveHs(ref).GetAtoms())  # the default keeps D
    pose = Chem.RemoveAllHs(ref)
    assert pose_rmsd(pose, ref) < 1e-9
