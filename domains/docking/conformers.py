"""Ligand hydrogens and conformers: seeded ETKDG for SMILES input, H removed for the model and
added back (with coordinates) on output."""
from __future__ import annotations


def embed_conformer(mol, seed: int = 0, optimize: bool = True, keep_hydrogens: bool = False):
    """Return a copy of ``mol`` with one seeded ETKDGv3 conformer, Å (any input conformer dropped).

    Hydrogens are added for embedding (and an MMFF clean-up when ``optimize``) and removed again
    unless ``keep_hydrogens``. Raises ValueError when RDKit cannot embed the molecule.
    """
    from rdkit import Chem
    from rdkit.Chem import AllChem

    if seed < 0:
        raise ValueError(f"seed: must be >= 0, got {seed}")
    mol_h = Chem.AddHs(Chem.Mol(mol), addCoords=False)
    mol_h.RemoveAllConformers()
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol_h, params) != 0:
        params.useRandomCoords = True
        if AllChem.EmbedMolecule(mol_h, params) != 0:
            name = mol.GetProp("_Name") if mol.HasProp("_Name") else Chem.MolToSmiles(mol)
            raise ValueError(f"{name}: ETKDG could not embed a conformer (seed {seed})")
    if optimize and AllChem.MMFFHasAllMoleculeParams(mol_h):
        AllChem.MMFFOptimizeMolecule(mol_h, maxIters=500)
    return mol_h if keep_hydrogens else Chem.RemoveHs(mol_h)


def strip_hydrogens(mol):
    """Heavy-atom copy of ``mol`` (what the model sees); stereo and coordinates kept."""
    from rdkit import Chem

    return Chem.RemoveHs(Chem.Mol(mol), sanitize=True)


def add_hydrogens(mol):
    """Copy of ``mol`` with explicit hydrogens placed from the heavy-atom coordinates (for output)."""
    from rdkit import Chem

    return Chem.AddHs(Chem.Mol(mol), addCoords=mol.GetNumConformers() > 0)


def with_positions(mol, pos):
    """Copy of heavy-atom ``mol`` with one conformer at ``pos`` ([N, 3], Å, array or tensor)."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    pos = [tuple(float(v) for v in row) for row in pos]
    if len(pos) != mol.GetNumAtoms():
        raise ValueError(f"positions: {len(pos)} rows for a molecule with {mol.GetNumAtoms()} atoms")
    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    conf = Chem.Conformer(len(pos))
    for i, (x, y, z) in enumerate(pos):
        conf.SetAtomPosition(i, Point3D(x, y, z))
    conf.Set3D(True)
    out.AddConformer(conf, assignId=True)
    return out
