from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_a_salt_docks_without_its_counter_ions_and_a_mixture_is_refused():
    (salt,) = read_ligand_inputs("CC(=O)Nc1ccc(O)cc1.Cl")  # paracetamol hydrochloride, as vendors write it
    ligand = prepare_ligand(salt)
    assert Chem.MolToSmiles(ligand.mol) == Chem.MolToSmiles(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))
    (tosylate,) = read_ligand_inputs("CC(=O)Nc1ccc(O)cc1CCN.Cc1ccc(S(=O)(=O)O)cc1")  # 11-atom counter-ion
    assert prepare_ligand(tosylate).mol.GetNumAtoms() == 14
    (mixture,) = read_ligand_inputs("c1ccccc1O.c1ccccc1C")
    with pytest.raises(ValueError, match=r"ligand: 2 disconnected fragments \(.*\) and no single main one"):
        prepare_ligand(mixture)
    (ions,) = read_ligand_inputs("[Na+].[Cl-]")  # no main fragment either
    with pytest.raises(ValueError, match="no single main one"):
        prepare_ligand(ions)


def test_a_folder_is_no_smiles_and_a_long_smiles_is_no_file_name(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; --ligand takes a ligand file"):
        read_ligand_inputs(str(tmp_path))
    (item,) = read_ligand_inputs("C" * 300)  # longer than a file name may be: OSError before
    assert item.record is not None and item.record.mol.GetNumAtoms() == 300


def test_keep_conformer_of_all_zero_coordinates_embeds_instead(tmp_path):
    mol = Chem.MolFromMolFile(str(DATA / "6YQW_82I_ligand.sdf"))
    for i in range(mol.GetNumAtoms()):
        mol.GetConformer().SetAtomPosition(i, (0.0, 0.0, 0.0))
    path = tmp_path / "zeros.sdf"
    Chem.MolToMolFile(mol, str(path))
    (item,) = read_ligand_inputs(str(path))
    ligand = prepare_ligand(item, seed=0, keep_conformer=True)  # before: "a bond has zero length"
    pos = ligand.mol.GetConformer().GetPositions()
    lengths = [np.linalg.norm(pos[b.GetBeginAtomIdx()] - pos[b.GetEndAtomIdx()]) for b in ligand.mol.GetBonds()]
    assert 1.1 < min(lengths) and max(lengths) < 1.9  # an ETKDG conformer, not the input's collapsed one
