from __future__ import annotations

from pathlib import Path

import pytest
from rdkit import Chem

from sciffusion.domains.docking.ligand_inputs import (
    LigandInput, double_bond_labels, prepare_ligand, read_ligand_inputs, safe_name, safe_names, stereo_labels,
)

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def test_names_are_safe_and_unique():
    assert safe_name("my ligand/1") == "my_ligand_1"
    assert safe_name("../..") == "ligand" and safe_name("seed_1") == "ligand_seed_1"
    assert len(safe_name("x" * 300)) == 80
    items = [LigandInput(k, name, None, "bad") for k, name in enumerate(["a", "A", "a", "summary.csv", ""], start=1)]
    assert [i.name for i in safe_names(items)] == ["a", "A_2", "a_3", "summary.csv_2", "ligand_5"]


def test_smiles_string_and_missing_file():
    (item,) = read_ligand_inputs("C[C@H](N)C(=O)O")
    assert item.name == "ligand" and item.record is not None and item.smiles == "C[C@H](N)C(=O)O"
    (bad,) = read_ligand_inputs("C1CC(")
    assert bad.record is None and "could not parse SMILES" in bad.error
    with pytest.raises(FileNotFoundError, match="ligand file not found"):
        read_ligand_inputs("nope/ligands.csv")


def test_files_every_record_read_or_reported(tmp_path):
    csv = tmp_path / "lib.csv"
    csv.write_text("ID,SMILES\nala,C[C@H](N)C(=O)O\nbroken,C1CC(\n,c1ccccc1\nala,CCO\n")
    items = read_ligand_inputs(str(csv))
    assert [i.name for i in items] == ["ala", "broken", "lib_3", "ala_2"]
    assert [i.record is None for i in items] == [False, True, False, False]
    assert items[1].error.startswith("record 2: RDKit could not parse SMILES")
    smi = tmp_path / "lib.smi"
    smi.write_text("# comment\nCCO ethanol\nC1CC( bad one\n")
    assert [(i.name, i.record is None) for i in read_ligand_inputs(str(smi))] == [("ethanol", False), ("bad_one", True)]
    sdf = tmp_path / "two.sdf"
    good = (DATA / "6YQW_82I_ligand.sdf").read_text()
    sdf.write_text("garbage\nno counts line\n$$$$\n" + good)
    items = read_ligand_inputs(str(sdf))
    assert [(i.name, i.record is None) for i in items] == [("two_1", True), ("6YQW_82I", False)]
    assert "lines 1-3" in items[0].error


def test_prepare_keeps_stereo_and_checks_size():
    (item,) = read_ligand_inputs("C[C@@H](O)[C@H](N)/C=C/C")
    ligand = prepare_ligand(item, seed=1)
    assert all(a.GetAtomicNum() > 1 for a in ligand.mol.GetAtoms()) and ligand.mol.GetConformer().Is3D()
    embedded = Chem.Mol(ligand.mol)
    Chem.AssignStereochemistryFrom3D(embedded)
    source = Chem.MolFromSmiles("C[C@@H](O)[C@H](N)/C=C/C")
    assert stereo_labels(embedded) == stereo_labels(source) and len(stereo_labels(source)) == 2
    assert double_bond_labels(embedded) == double_bond_labels(source) == {(5, 6): "E"}
    with pytest.raises(ValueError, match="heavy atoms, more than the limit of 5"):
        prepare_ligand(item, max_heavy_atoms=5)
    (hydrogen,) = read_ligand_inputs("[H][H]")
    with pytest.raises(ValueError, match="no heavy atoms"):
        prepare_ligand(hydrogen)


def test_keep_conformer_uses_the_input_pose():
    (item,) = read_ligand_inputs(str(DATA / "6YQW_82I_ligand.sdf"))
    crystal = Chem.MolFromMolFile(str(DATA / "6YQW_82I_ligand.sdf")).GetConformer().GetPositions()
    kept = prepare_ligand(item, keep_conformer=True).mol.GetConformer().GetPositions()
    fresh = prepare_ligand(item, keep_conformer=False).mol.GetConformer().GetPositions()
    assert abs(kept - crystal).max() < 1e-6 and abs(fresh - crystal).max() > 1.0


def test_several_start_conformers_keep_the_stereo():
    smiles = "C[C@@H](O)[C@H](N)/C=C/CCCO"
    (item,) = read_ligand_inputs(smiles)
    ligand = prepare_ligand(item, seed=2, conformers=3)
    assert ligand.num_conformers == 3
    starts = ligand.start_positions
    assert min(float((starts[i] - starts[j]).abs().max()) for i in range(3) for j in range(i)) > 0.05
    source = Chem.MolFromSmiles(smiles)
    for conf in ligand.mol.GetConformers():
        one = Chem.Mol(ligand.mol, confId=conf.GetId())
        Chem.AssignStereochemistryFrom3D(one, confId=conf.GetId())
        assert stereo_labels(one) == stereo_labels(source) and double_bond_labels(one) == double_bond_labels(source)
    # the first conformer is the one-conformer run's (same seed), so --conformers 1 repeats older runs
    one = prepare_ligand(item, seed=2, conformers=1)
    assert abs(one.mol.GetConformer().GetPositions() - ligand.mol.GetConformers()[0].GetPositions()).max() < 1e-9
    with pytest.raises(ValueError, match="conformers: must be >= 1"):
        prepare_ligand(item, conformers=0)


def test_hydrogens_that_rdkit_keeps_are_removed_too():
    """An imine N-H defining E/Z stereo and deuterium are kept by RemoveHs' defaults (2AOD, 6FH3 failed)."""
    for smiles, heavy in (("[2H]C([2H])([2H])c1ccccc1", 7), ("CC(/C)=N/[H]", 4)):
        (item,) = read_ligand_inputs(smiles)
        ligand = prepare_ligand(item)
        assert ligand.num_atoms == heavy and all(a.GetAtomicNum() > 1 for a in ligand.mol.GetAtoms())
