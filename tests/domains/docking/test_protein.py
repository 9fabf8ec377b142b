from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from sciffusion.domains.docking.protein import ProteinReadConfig, read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"

PDB = """\
ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00 10.00           N
ATOM      2  CA  ALA A   1       1.458   0.000   0.000  1.00 10.00           C
ATOM      3  C   ALA A   1       2.009   1.420   0.000  1.00 10.00           C
ATOM      4  CB AALA A   1       1.988  -0.773  -1.199  0.40 10.00           C
ATOM      5  CB BALA A   1       1.900  -0.800  -1.100  0.60 10.00           C
ATOM      6  H   ALA A   1      -0.500   0.500   0.000  1.00 10.00           H
HETATM    7 ZN    ZN A 101       5.000   5.000   5.000  1.00 10.00          ZN
HETATM    8  C1  LIG A 102       6.000   5.000   5.000  1.00 10.00           C
HETATM    9  O   HOH A 201       8.000   8.000   8.000  1.00 10.00           O
END
"""


@pytest.fixture()
def toy_pdb(tmp_path) -> Path:
    path = tmp_path / "toy.pdb"
    path.write_text(PDB)
    return path


def test_defaults_drop_water_and_h_keep_het_and_best_altloc(toy_pdb):
    prot = read_protein(toy_pdb)
    assert list(prot.residue_name) == ["ALA", "ZN", "LIG"]
    assert list(prot.atom_name) == ["N", "CA", "C", "CB", "ZN", "C1"]
    cb = prot.residue_atom_pos(0, "CB")
    np.testing.assert_allclose(cb, [1.9, -0.8, -1.1], atol=1e-3)  # occupancy 0.6 wins
    assert prot.residue_is_amino_acid.tolist() == [True, False, False]
    assert any("water" in n for n in prot.notes)


def test_options(toy_pdb):
    first = read_protein(toy_pdb, ProteinReadConfig(altloc="first", keep_waters=True, keep_hydrogens=True))
    np.testing.assert_allclose(first.residue_atom_pos(0, "CB"), [1.988, -0.773, -1.199], atol=1e-3)
    assert "HOH" in first.residue_name and "H" in first.atom_name
    metals = read_protein(toy_pdb, ProteinReadConfig(hetero="metals_only"))
    assert list(metals.residue_name) == ["ALA", "ZN"]
    assert list(read_protein(toy_pdb, ProteinReadConfig(hetero="drop")).residue_name) == ["ALA"]
    assert list(read_protein(toy_pdb, ProteinReadConfig(exclude_residues=("lig",))).residue_name) == ["ALA", "ZN"]
    with pytest.raises(ValueError, match="altloc"):
        ProteinReadConfig(altloc="best")


def test_gzip_pdb_and_mmcif_agree(tmp_path):
    import gemmi
    prot = read_protein(DATA / "6YQW_82I_protein.pdb.gz")
    st = gemmi.read_structure(str(DATA / "6YQW_82I_protein.pdb.gz"))
    st.setup_entities()
    cif = tmp_path / "p.cif"
    st.make_mmcif_document().write_file(str(cif))
    prot_cif = read_protein(cif)
    assert prot.num_atoms == prot_cif.num_atoms > 500
    np.testing.assert_allclose(prot.atom_pos, prot_cif.atom_pos, atol=1e-3)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pdb"):
        read_protein(tmp_path / "nope.pdb")
    bad = tmp_path / "prot.txt"
    bad.write_text("x")
    with pytest.raises(ValueError, match="unsupported protein format"):
        read_protein(bad)
    only_water = tmp_path / "w.pdb"
    only_water.write_text(PDB.splitlines()[8] + "\nEND\n")
    with pytest.raises(ValueError, match="no atoms left"):
        read_protein(only_water)


def _real_pdb_lines() -> list[str]:
    return gzip.open(DATA / "6YQW_82I_pocket.pdb.gz", "rt").read().splitlines(keepends=True)


def test_real_pdb_cut_mid_record_is_an_error(tmp_path):
    text = "".join(_real_pdb_lines())
    middle = text.index("\nATOM", len(text) // 3) + 40  # inside an ATOM line, past its x coordinate
    cut = tmp_path / "cut.pdb"
    cut.write_text(text[:middle])
    with pytest.raises(ValueError, match=r"cut.pdb: truncated: line \d+ is cut mid-record \('ATOM"):
        read_protein(cut)
    past_coordinates = tmp_path / "cut_late.pdb"  # x, y, z complete but occupancy/element cut
    past_coordinates.write_text(text[: text.index("\nATOM", len(text) // 3) + 60])
    import gemmi
    assert 0 < gemmi.read_structure(str(past_coordinates))[0].count_atom_sites() < 483  # gemmi alone accepts it
    with pytest.raises(ValueError, match=r"cut_late.pdb: truncated: line \d+ is cut mid-record"):
        read_protein(past_coordinates)
    gz = tmp_path / "cut.pdb.gz"
    gz.write_bytes(gzip.compress(text.encode())[:3000])
    with pytest.raises(ValueError, match=r"cut.pdb.gz: truncated or unreadable file"):
        read_protein(gz)


def test_real_pdb_cut_at_a_line_boundary_is_read_with_a_warning(tmp_path):
    lines = _real_pdb_lines()
    atoms = [i for i, line in enumerate(lines) if line.startswith(("ATOM", "HETATM"))]
    cut = tmp_path / "cut.pdb"
    cut.write_text("".join(lines[: atoms[len(atoms) // 2] + 1]))
    prot = read_protein(cut)
    assert 0 < prot.num_atoms < 483
    assert len(prot.warnings) == 1 and "no END record" in prot.warnings[0] and str(cut) in prot.warnings[0]
    assert read_protein(DATA / "6YQW_82I_pocket.pdb.gz").warnings == ()  # complete: ends with CONECT
    ended = tmp_path / "ended.pdb"
    ended.write_text("".join(lines[: atoms[len(atoms) // 2] + 1]) + "END\n")
    assert read_protein(ended).warnings == ()


def test_empty_or_non_structure_files_are_one_line_errors(tmp_path):
    for name in ("empty.pdb", "empty.cif", "empty.pdb.gz", "empty.cif.gz"):
        path = tmp_path / name
        if name.endswith(".gz"):
            with gzip.open(path, "wb"):
                pass
        else:
            path.write_bytes(b"")
        with pytest.raises(ValueError, match=f"{name}: empty protein file"):  # gemmi: IndexError / OSError
            read_protein(path)
    ligand_as_pdb = tmp_path / "ligand.pdb"
    ligand_as_pdb.write_text((DATA / "6XG5_TOP_ligand.sdf").read_text())
    with pytest.raises(ValueError, match="ligand.pdb: no atom records .*is this a protein structure file"):
        read_protein(ligand_as_pdb)
    (tmp_path / "folder.pdb").mkdir()
    with pytest.raises(IsADirectoryError, match="folder.pdb: is a folder"):
        read_protein(tmp_path / "folder.pdb")
