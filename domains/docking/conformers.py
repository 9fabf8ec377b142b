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


def strip_hydrogens(mol, sanitize: bool = True):
    """Heavy-atom copy of ``mol`` (what the model sees); tetrahedral stereo and coordinates kept.

    Every hydrogen goes, including those RDKit's default ``RemoveHs`` keeps: an H that defines a
    double bond's stereo (e.g. an imine N–H; the E/Z label of such a bond is then undefined), a
    wedged H, isotopes (D, T) and hydrides. The model and the output's re-added hydrogens work
    from heavy atoms. ``sanitize``: RDKit's sanitisation after the removal (off for poses read
    unsanitised, as the evaluation does)."""
    from rdkit import Chem

    params = Chem.RemoveHsParameters()
    params.removeDefiningBondStereo = True
    params.removeWithWedgedBond = True
    params.removeIsotopes = True
    params.removeHydrides = True
    params.removeNonimplicit = True
    params.removeWithQuery = True
    params.removeDegreeZero = True
    out = Chem.RemoveHs(Chem.Mol(mol), params, sanitize=sanitize)
    if any(atom.GetAtomicNum() == 1 for atom in out.GetAtoms()):  # e.g. H bonded to two atoms, H2
        out = Chem.RemoveAllHs(out, sanitize=sanitize)
    return out


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


def conformer_targets(mol, count: int = 4, seed: int = 0, optimize: bool = True, refine_steps: int = 50) -> dict:
    """``count`` seeded ETKDG conformers of heavy-atom ``mol`` (RDKit seeds seed+1, ..., seed+count,
    as RDKit draws the same conformer for seeds 0 and 1; from the graph and stereochemistry, the
    input pose unused) and, for each, the pose change that takes it onto ``mol``'s own (crystal)
    pose: torsion changes that give every rotatable bond the crystal's dihedral
    (:func:`torsions.dihedral_quadruples`), refined by ``refine_steps`` L-BFGS iterations on the
    Kabsch-aligned RMSD (0: no refinement; the refined change is kept only when it lowers the
    RMSD), then the Kabsch rotation about the centroid and the centroid shift (convention of
    :mod:`sciffusion.domains.docking.kinematics`).

    Returns float32 tensors: ``pos`` [K, N, 3] Å (same atom order as mol), ``torsion_delta`` [K, m]
    rad in (−π, π], ``rotation`` [K, 3, 3], ``translation`` [K, 3] Å, ``rmsd_rigid`` [K] Å (the
    conformer Kabsch-aligned onto the crystal, torsions unchanged), ``rmsd_matched`` [K] Å (after
    the stored change: what remains is the conformer's bond-length and angle differences), and
    ``seed`` [K] int64. Raises ValueError when a conformer cannot be embedded.
    """
    import torch

    from sciffusion.common.manifolds.torus import wrap
    from sciffusion.domains.docking.kinematics import (
        apply_pose, apply_torsions, dihedrals, kabsch_rotation, mask_to_index, torsion_tree,
    )
    from sciffusion.domains.docking.torsions import dihedral_quadruples, rotatable_bonds

    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count}")
    if refine_steps < 0:
        raise ValueError(f"refine_steps: must be >= 0, got {refine_steps}")
    if mol.GetNumConformers() == 0:
        raise ValueError("ligand: no coordinates, nothing to align conformers to")
    n = mol.GetNumAtoms()
    crystal = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)
    edges, mask = rotatable_bonds(mol)
    quads = dihedral_quadruples(mol, edges)
    mask_torsion, mask_atom = mask_to_index(mask)
    tree = torsion_tree(edges, mask_torsion, mask_atom, n)
    out = {key: [] for key in ("pos", "torsion_delta", "rotation", "translation", "rmsd_rigid", "rmsd_matched")}
    batch = torch.zeros(n, dtype=torch.long)
    for k in range(count):
        embedded = embed_conformer(mol, seed=seed + 1 + k, optimize=optimize, keep_hydrogens=True)
        pos = torch.tensor(embedded.GetConformer().GetPositions()[:n], dtype=torch.float64)  # AddHs appends H
        delta = wrap(dihedrals(crystal, quads) - dihedrals(pos, quads))
        if refine_steps and edges.shape[0]:
            delta = _refine_torsions(pos, crystal, edges, mask_torsion, mask_atom, tree, delta, refine_steps)
        matched = apply_torsions(pos, edges, mask_torsion, mask_atom, delta, tree)
        rotation = kabsch_rotation(matched, crystal)
        translation = crystal.mean(0) - matched.mean(0)
        moved = apply_pose(pos, batch, edges, mask_torsion, mask_atom, translation[None], rotation[None], delta, tree)
        rigid = kabsch_rotation(pos, crystal)
        aligned = (pos - pos.mean(0)) @ rigid.T + crystal.mean(0)
        for key, value in (("pos", pos), ("torsion_delta", delta), ("rotation", rotation),
                           ("translation", translation), ("rmsd_rigid", _rmsd(aligned, crystal)),
                           ("rmsd_matched", _rmsd(moved, crystal))):
            out[key].append(value)
    result = {key: torch.stack(values).to(torch.float32) for key, values in out.items()}
    result["seed"] = torch.arange(seed + 1, seed + 1 + count, dtype=torch.long)
    return result


def _rmsd(a, b):
    return ((a - b) ** 2).sum(-1).mean().sqrt()


def _aligned_rmsd(pos, target):
    from sciffusion.domains.docking.kinematics import kabsch_rotation

    return _rmsd((pos - pos.mean(0)) @ kabsch_rotation(pos, target).T, target - target.mean(0))


def _refine_torsions(pos, crystal, edges, mask_torsion, mask_atom, tree, delta, steps: int):
    """Torsion changes [m] (radians, wrapped) lowering the Kabsch-aligned RMSD to ``crystal``, by
    L-BFGS from ``delta``; ``delta`` itself when the refinement does not lower it (or fails)."""
    import torch

    from sciffusion.common.manifolds.torus import wrap
    from sciffusion.domains.docking.kinematics import apply_torsions

    def loss_of(d):
        return _aligned_rmsd(apply_torsions(pos, edges, mask_torsion, mask_atom, d, tree), crystal)

    start = float(loss_of(delta))
    var = delta.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([var], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_of(var)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    refined = wrap(var.detach())
    end = float(loss_of(refined))
    return refined if end == end and end < start else delta
