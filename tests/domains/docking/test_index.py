from __future__ import annotations

from pathlib import Path

import pytest

from sciffusion.domains.docking.index import build_index, read_index

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
BOX_HEADER = "id,protein,ligand,pocket_center_x,pocket_center_y,pocket_center_z,pocket_size_x,pocket_size_y,pocket_size_z\n"


def _index(tmp_path: Path) -> Path:
    path = tmp_path / "index.csv"
    path.write_text(
        "id,protein,ligand,pocket_ligand,pocket_residues\n"
        f"6YQW_82I,{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/6YQW_82I_ligand.sdf,{DATA}/6YQW_82I_ligand.sdf,\n"
        f"6XG5_TOP,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,,\n"
        f"BAD_RES,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,,Z:999\n"
    )
    return path


def test_index_round_trip_and_errors(tmp_path):
    entries = read_index(_index(tmp_path))
    assert [e.id for e in entries] == ["6YQW_82I", "6XG5_TOP", "BAD_RES"]
    assert [e.line for e in entries] == [2, 3, 4]
    assert entries[0].pocket().__class__.__name__ == "LigandPocket"
    assert entries[1].pocket().__class__.__name__ == "BlindPocket"
    assert entries[2].pocket().__class__.__name__ == "ResiduePocket"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,protein\na,b\n")
    with pytest.raises(ValueError, match="missing column"):
        read_index(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("id,protein,ligand\na,p.pdb,l.sdf\na,p.pdb,l.sdf\n")
    with pytest.raises(ValueError, match="line 3: duplicate id"):
        read_index(dup)


def test_bad_pocket_belongs_to_its_row_only(tmp_path):
    """A zero-size box, a non-numeric box value or a malformed residue fails that row (named by
    file, line and id), not the whole index."""
    path = tmp_path / "box.csv"
    path.write_text(BOX_HEADER + "good,p.pdb,l.sdf,1,2,3,10,10,10\n" + "flat,p.pdb,l.sdf,1,2,3,0,10,10\n"
                    + "text,p.pdb,l.sdf,1,2,3,10,10,x\n" + "blind,p.pdb,l.sdf,,,,,,\n")
    entries = read_index(path)
    assert [e.id for e in entries] == ["good", "flat", "text", "blind"]
    assert entries[0].pocket().box.size == (10.0, 10.0, 10.0) and entries[0].pocket_error == ""
    with pytest.raises(ValueError) as flat:
        entries[1].pocket()
    assert str(flat.value) == f"{path}: line 3: id flat: box: every size must be > 0 Å, got (0.0, 10.0, 10.0)"
    with pytest.raises(ValueError, match=r"box.csv: line 4: id text: pocket box needs all six numbers"):
        entries[2].pocket()
    assert entries[3].pocket().__class__.__name__ == "BlindPocket"
    residues = tmp_path / "res.csv"
    residues.write_text("id,protein,ligand,pocket_residues\nr,p.pdb,l.sdf,A:45 45\n")
    with pytest.raises(ValueError, match=r"res.csv: line 2: id r: residue pocket: '45' is not CHAIN:NUMBER"):
        read_index(residues)[0].pocket()


def test_binary_index_names_the_file(tmp_path):
    path = tmp_path / "index.csv"
    path.write_bytes(b"id,protein,ligand\n\xff\xfe\x00\x81garbage,\x9c\n")
    with pytest.raises(ValueError) as info:
        read_index(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not UTF-8 text") and "codec" not in message and "\n" not in message


def test_build_index_from_shared_layout(tmp_path):
    root = tmp_path / "data"
    (root / "splits").mkdir(parents=True)
    (root / "posebusters_v2_public").mkdir()
    for cid in ("A_1", "B_2", "C_3"):
        (root / "posebusters_v2_public" / f"{cid}_ligand.sdf").write_text("")
    (root / "splits" / "test_public.txt").write_text("A_1\nB_2\nC_3\n")
    text = build_index(root, ("test_public",), sample=2, seed=0)
    lines = text.strip().splitlines()
    assert lines[0] == "id,protein,ligand,split,pocket_ligand" and len(lines) == 3
    assert text == build_index(root, ("test_public",), sample=2, seed=0)
    (root / "splits" / "test_public.txt").write_text("Z_9\n")
    with pytest.raises(ValueError, match="Z_9 not found"):
        build_index(root, ("test_public",))
