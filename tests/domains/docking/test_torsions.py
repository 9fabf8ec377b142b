from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.torsions import dihedral_quadruples, rotatable_bond_pairs, rotatable_bonds

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
SHARED = Path("/work/shared/data/docking")


def _bonds(smiles: str) -> set[frozenset[str]]:
    """Rotatable bonds as sets of their atoms' 'symbol+index' labels."""
    mol = Chem.MolFromSmiles(smiles)
    return {frozenset((f"{mol.GetAtomWithIdx(u).GetSymbol()}{u}", f"{mol.GetAtomWithIdx(v).GetSymbol()}{v}"))
            for u, v in rotatable_bond_pairs(mol)}


def test_hand_cases_follow_the_strict_definition():
    assert _bonds("CC(=O)NC") == set()                       # amide C-N rigid, N-CH3 / C-CH3 terminal
    assert _bonds("CCC(=O)NCC") == {frozenset(("C1", "C2")), frozenset(("N4", "C5"))}  # amide C-N still rigid
    assert _bonds("c1ccccc1C(=O)N") == {frozenset(("C5", "C6"))}  # aryl-C(=O) rotates
    assert _bonds("CCC#N") == set() and _bonds("N#Cc1ccccc1") == set()  # nitrile: a straight line
    assert _bonds("CCOC(=O)c1ccccc1") == {frozenset(("O2", "C1")), frozenset(("C3", "C5"))}  # ester C(=O)-O rigid
    assert _bonds("c1ccccc1-c1ccccc1") == {frozenset(("C5", "C6"))}  # biphenyl rotates
    assert _bonds("C1CCCCC1") == set() and _bonds("C1CCCCC1C1CCCCC1") == {frozenset(("C5", "C6"))}
    assert _bonds("FC(F)(F)c1ccccc1") == set() and _bonds("CC(C)(C)c1ccccc1") == set()  # CF3, tert-butyl
    assert _bonds("CCCC") == {frozenset(("C1", "C2"))} and _bonds("CC") == set()
    for smiles in ("CC(=O)NC", "CCOC(=O)c1ccccc1", "c1ccccc1-c1ccccc1", "CCCCC(=O)Nc1ccc(C#N)cc1CC(F)(F)F"):
        mol = Chem.MolFromSmiles(smiles)
        assert len(rotatable_bond_pairs(mol)) == rdMolDescriptors.CalcNumRotatableBonds(mol, strict=True)


def test_ring_bonds_are_never_rotatable():
    mol = Chem.MolFromSmiles("O=C(NC1CCN(Cc2ccccc2)CC1)c1ccc2ccccc2c1")
    for u, v in rotatable_bond_pairs(mol):
        assert not mol.GetBondBetweenAtoms(u, v).IsInRing()


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared docking data not present")
def test_counts_equal_rdkit_strict_count_on_training_ligands():
    """40 training-split ligands (seeded sample): our bonds are exactly RDKit's strict count."""
    ids = random.Random(0).sample((SHARED / "splits" / "train.txt").read_text().split(), 40)
    checked = 0
    for cid in ids:
        path = next(p for d in ("train_pdb_ccd", "train_pdbbind2020_subset")
                    for p in [SHARED / d / f"{cid}_ligand.sdf"] if p.exists())
        mol = read_ligand(path).mol
        assert rotatable_bonds(mol)[0].shape[0] == rdMolDescriptors.CalcNumRotatableBonds(mol, strict=True), cid
        checked += 1
    assert checked == 40


def test_moving_side_is_the_smaller_side_and_excludes_u():
    mol = read_ligand(DATA / "6XG5_TOP_ligand.sdf").mol
    edges, mask = rotatable_bonds(mol)
    assert edges.shape == (5, 2)  # 2 CH2 bonds + 3 aryl-O bonds; O-CH3 bonds are terminal
    assert (mask.sum(1) <= mol.GetNumAtoms() / 2).all()
    for (u, v), m in zip(edges.tolist(), mask):
        assert m[v] and not m[u]
        bond = mol.GetBondBetweenAtoms(u, v)
        assert not bond.IsInRing() and bond.GetBondTypeAsDouble() == 1.0
    quads = dihedral_quadruples(mol, edges)
    assert torch.equal(quads[:, 1:3], edges)
    for a, u, v, d in quads.tolist():
        assert mol.GetBondBetweenAtoms(a, u) is not None and mol.GetBondBetweenAtoms(v, d) is not None
        assert a != v and d != u


def test_hydrogens_on_carbon_are_refused():
    with pytest.raises(ValueError, match="hydrogens on carbon"):
        rotatable_bonds(Chem.AddHs(Chem.MolFromSmiles("CCCC")))
