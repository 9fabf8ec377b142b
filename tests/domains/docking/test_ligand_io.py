from __future__ import annotations

from pathlib import Path

import pytest
from rdkit import Chem

from sciffusion.domains.docking.ligand_io import LigandRecordError, read_ligand, read_ligands, smiles_record

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def test_read_sdf_keeps_atoms_and_coordinates():
    rec = read_ligand(DATA / "6XG5_TOP_ligand.sdf")
    assert rec.mol.GetNumAtoms() == 21 and rec.has_3d
    assert Chem.MolToSmiles(rec.mol) == Chem.CanonSmiles("COc1cc(Cc2cnc(N)nc2N)cc(OC)c1OC")


def test_read_mol2_round_trip(tmp_path):
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    from sciffusion.domains.docking.conformers import embed_conformer
    from sciffusion.domains.docking.conformers import add_hydrogens
    mol3d = add_hydrogens(embed_conformer(mol, seed=1))
    # RDKit has no MOL2 writer; build a Tripos block by hand (with hydrogens, as MOL2 expects).
    conf = mol3d.GetConformer()
    types = {"C": "C.3", "N": "N.am", "O": "O.3", "H": "H"}
    lines = ["@<TRIPOS>MOLECULE", "paracetamol", f"{mol3d.GetNumAtoms()} {mol3d.GetNumBonds()} 0 0 0", "SMALL",
             "NO_CHARGES", "", "@<TRIPOS>ATOM"]
    for a in mol3d.GetAtoms():
        p = conf.GetAtomPosition(a.GetIdx())
        t = "C.ar" if a.GetIsAromatic() else ("O.2" if a.GetSymbol() == "O" and a.GetDegree() == 1
                                               and any(b.GetBondTypeAsDouble() == 2 for b in a.GetBonds())
                                               else types[a.GetSymbol()])
        if a.GetSymbol() == "C" and not a.GetIsAromatic() and any(b.GetBondTypeAsDouble() == 2 for b in a.GetBonds()):
            t = "C.2"
        lines.append(f"{a.GetIdx()+1} {a.GetSymbol()}{a.GetIdx()+1} {p.x:.4f} {p.y:.4f} {p.z:.4f} {t} 1 LIG 0.0")
    lines.append("@<TRIPOS>BOND")
    for b in mol3d.GetBonds():
        order = {1.0: "1", 2.0: "2", 1.5: "ar"}[b.GetBondTypeAsDouble()]
        lines.append(f"{b.GetIdx()+1} {b.GetBeginAtomIdx()+1} {b.GetEndAtomIdx()+1} {order}")
    path = tmp_path / "lig.mol2"
    path.write_text("\n".join(lines) + "\n")
    rec = read_ligand(path)
    assert rec.has_3d
    assert Chem.MolToSmiles(Chem.RemoveHs(rec.mol)) == Chem.CanonSmiles("CC(=O)Nc1ccc(O)cc1")


def test_smiles_keeps_stereo():
    rec = smiles_record("C[C@H](N)C(=O)O", name="ala")
    assert Chem.MolToSmiles(rec.mol) == "C[C@H](N)C(=O)O"
    assert not rec.has_3d


def test_sdf_3d_stereo_survives(tmp_path):
    from sciffusion.domains.docking.conformers import embed_conformer
    mol = embed_conformer(Chem.MolFromSmiles("C[C@@H](O)CC"), seed=3)
    path = tmp_path / "x.sdf"
    with Chem.SDWriter(str(path)) as w:
        w.write(mol)
    assert Chem.MolToSmiles(read_ligand(path).mol) == Chem.MolToSmiles(Chem.MolFromSmiles("C[C@@H](O)CC"))


def test_batch_sdf_skips_and_reports_bad_record(tmp_path):
    good = (DATA / "6YQW_82I_ligand.sdf").read_text()
    path = tmp_path / "multi.sdf"
    # record 2: atom block shorter than its counts line (unparseable); record 3: pentavalent carbon
    text = good + "broken\n  x\n\n  3  1  0  0  0  0  0  0  0  0999 V2000\n" \
        "    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n" \
        "  1  2  1  0\nM  END\n$$$$\n"
    text += "pentaC\n  x\n\n  6  5  0  0  0  0  0  0  0  0999 V2000\n" + "".join(
        f"    {i:.4f}    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n" for i in range(6)
    ) + "".join(f"  1  {j}  1  0\n" for j in range(2, 7)) + "M  END\n$$$$\n"
    text += good
    path.write_text(text)
    batch = read_ligands(path)
    assert [r.record for r in batch.records] == [1, 4]
    assert [f.record for f in batch.failures] == [2, 3]
    assert all(str(path) in str(f) for f in batch.failures)
    assert "counts line declares 3 atoms and 1 bonds" in str(batch.failures[0])
    assert "record 3 (pentaC)" in str(batch.failures[1]) and "valence" in str(batch.failures[1]).lower()
    assert "\n" not in str(batch.failures[1])


def test_smi_and_csv_batches(tmp_path):
    smi = tmp_path / "ligs.smi"
    smi.write_text("CCO ethanol\nC1CC1C(=O ring_bad\nc1ccccc1 benzene\n")
    batch = read_ligands(smi)
    assert [r.name for r in batch.records] == ["ethanol", "benzene"]
    assert len(batch.failures) == 1 and "record 2 (ring_bad)" in str(batch.failures[0])
    csv_path = tmp_path / "ligs.csv"
    csv_path.write_text("id,SMILES\na,CCN\nb,\n")
    batch = read_ligands(csv_path)
    assert [r.name for r in batch.records] == ["a"] and "empty SMILES" in str(batch.failures[0])


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.sdf"):
        read_ligand(tmp_path / "missing.sdf")
    bad = tmp_path / "lig.xyz"
    bad.write_text("1\n\nC 0 0 0\n")
    with pytest.raises(ValueError, match="lig.xyz: unsupported ligand format"):
        read_ligand(bad)
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("id,smi\na,CC\n")
    with pytest.raises(ValueError, match="no 'smiles' column"):
        read_ligands(csv_path)
    with pytest.raises(LigandRecordError):
        smiles_record("C1CC", name="open_ring")


def test_gzipped_sdf(tmp_path):
    import gzip
    path = tmp_path / "lig.sdf.gz"
    with gzip.open(path, "wt") as fh:
        fh.write((DATA / "6YQW_82I_ligand.sdf").read_text())
    assert read_ligand(path).mol.GetNumAtoms() == 11


def _good_garbage_truncated_good(tmp_path) -> Path:
    """Records: 1 good (6YQW_82I, 40 lines), 2 garbage (2 lines, no $$$$), 3 the first 12 lines of
    6XG5_TOP (cut inside its atom block, no $$$$), 4 good (6XG5_TOP)."""
    first = (DATA / "6YQW_82I_ligand.sdf").read_text()
    second = (DATA / "6XG5_TOP_ligand.sdf").read_text()
    cut = "".join(second.splitlines(keepends=True)[:12])
    path = tmp_path / "mixed.sdf"
    path.write_text(first + "this is garbage\nnot a molecule\n" + cut + second)
    return path


def test_batch_sdf_truncated_and_garbage_records_do_not_swallow_the_next(tmp_path):
    path = _good_garbage_truncated_good(tmp_path)
    n_first = len((DATA / "6YQW_82I_ligand.sdf").read_text().splitlines())
    batch = read_ligands(path)
    assert [(r.record, r.name) for r in batch.records] == [(1, "6YQW_82I"), (4, "6XG5_TOP")]
    assert batch.records[1].mol.GetNumAtoms() == 21
    assert [f.record for f in batch.failures] == [2, 3]
    garbage, truncated = batch.failures
    assert garbage.lines == (n_first + 1, n_first + 2) and "no V2000/V3000 counts line" in str(garbage)
    assert truncated.lines == (n_first + 3, n_first + 14)
    assert f"record 3 (6XG5_TOP), lines {n_first + 3}-{n_first + 14}" in str(truncated)
    assert f"no 'M  END' line before the next record starts at line {n_first + 15}" in str(truncated)
    assert batch.records[0].lines == (1, n_first)


def test_sdf_record_cut_at_end_of_file_is_reported(tmp_path):
    good = (DATA / "6YQW_82I_ligand.sdf").read_text()
    path = tmp_path / "cut.sdf"
    path.write_text(good + good[: len(good) // 3])
    batch = read_ligands(path)
    assert [r.record for r in batch.records] == [1]
    assert [f.record for f in batch.failures] == [2] and "before the file ends" in str(batch.failures[0])
    single = tmp_path / "single.sdf"
    single.write_text(good[: len(good) // 3])
    with pytest.raises(ValueError, match=r"single.sdf: record 1 \(6YQW_82I\), lines 1-\d+: truncated"):
        read_ligand(single)


def test_binary_text_formats_name_the_file(tmp_path):
    for suffix in (".smi", ".csv", ".mol2"):
        path = tmp_path / f"ligands{suffix}"
        path.write_bytes(b"\xff\xfeC\x00C\x00O\x00\n")  # UTF-16, or any binary file
        with pytest.raises(ValueError, match=f"ligands{suffix}: not UTF-8 text"):
            read_ligands(path)
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbfsmiles,name\r\nCCO,ethanol\r\n")  # UTF-8 with a byte-order mark
    assert [r.name for r in read_ligands(excel).records] == ["ethanol"]
    huge = tmp_path / "huge.csv"
    huge.write_text("smiles,name\n" + "C" * 200_000 + ",x\n")
    with pytest.raises(ValueError, match="huge.csv: not valid CSV"):  # csv.Error before
        read_ligands(huge)


def test_all_zero_coordinates_are_not_3d(tmp_path):
    mol = Chem.MolFromMolFile(str(DATA / "6XG5_TOP_ligand.sdf"))
    for i in range(mol.GetNumAtoms()):
        mol.GetConformer().SetAtomPosition(i, (0.0, 0.0, 0.0))
    path = tmp_path / "zeros.sdf"
    Chem.MolToMolFile(mol, str(path))
    assert read_ligand(DATA / "6XG5_TOP_ligand.sdf").has_3d
    assert not read_ligand(path).has_3d


def test_rdkit_log_lines_are_held_back(tmp_path, capfd):
    path = tmp_path / "bad.smi"
    path.write_text("notasmiles x\nC(C)(C)(C)(C)C pentavalent\nCCO ok\n")
    batch = read_ligands(path)
    assert len(batch.records) == 1 and len(batch.failures) == 2
    assert capfd.readouterr().err == ""  # each failure says its problem once, in its record's error
