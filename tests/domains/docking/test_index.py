from __future__ import annotations

import re
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


def _user_folder(root: Path, nested: bool) -> None:
    """Two real complexes in a user's own layout: flat or one sub-folder per id."""
    import shutil

    for cid in ("6XG5_TOP", "6YQW_82I"):
        folder = root / cid if nested else root
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / f"{cid}_ligand.sdf", folder / f"{cid}_ligand.sdf")
        shutil.copy(DATA / f"{cid}_pocket.pdb.gz", folder / f"{cid}_protein.pdb.gz")


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "sub-folders"])
def test_any_folder_of_pairs_indexes_and_relative_paths_resolve(tmp_path, monkeypatch, nested):
    _user_folder(tmp_path / "mine", nested)
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)  # relative --data-root, index written in another folder
    text = build_index("mine", out="out/index.csv")
    (tmp_path / "out" / "index.csv").write_text(text)
    assert text.splitlines()[1].startswith("6XG5_TOP,../mine/")
    entries = read_index(tmp_path / "out" / "index.csv")
    assert [e.id for e in entries] == ["6XG5_TOP", "6YQW_82I"]
    for e in entries:
        assert e.protein.is_file() and e.ligand.is_file() and e.pocket_ligand == e.ligand and e.split == ""
    absolute = build_index(tmp_path / "mine", pocket="blind", out="out/index.csv")
    assert f",{tmp_path / 'mine'}" in absolute and absolute.splitlines()[1].endswith(",,")
    with pytest.raises(ValueError, match="--splits: .* has no splits/ folder"):
        build_index("mine", ("train",))


def test_folder_problems_are_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "X_ligand.sdf").write_text("")
    with pytest.raises(ValueError, match=r"X_ligand.sdf: no protein file X_protein"):
        build_index(tmp_path / "a")
    (tmp_path / "a" / "X_protein.pdb").write_text("")
    (tmp_path / "a" / "X_protein.pdb.gz").write_text("")
    with pytest.raises(ValueError, match=r"several protein files .* beside it \(X_protein.pdb, X_protein.pdb.gz\)"):
        build_index(tmp_path / "a")
    (tmp_path / "b" / "other").mkdir(parents=True)
    (tmp_path / "b" / "other" / "Y_ligand.sdf").write_text("")
    with pytest.raises(ValueError, match="expected Y/"):
        build_index(tmp_path / "b")
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="no <id>_ligand.sdf files"):
        build_index(tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        build_index(tmp_path / "none")


def test_csv_of_paths_is_rebased_onto_the_index(tmp_path, monkeypatch):
    from sciffusion.domains.docking.index import index_from_csv

    _user_folder(tmp_path / "data", nested=False)
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "mine.csv").write_text(
        "id,protein,ligand,split\n"
        "a,../data/6XG5_TOP_protein.pdb.gz,../data/6XG5_TOP_ligand.sdf,train\n"
        "b,../data/6YQW_82I_protein.pdb.gz,../data/6YQW_82I_ligand.sdf,val\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep" / "er").mkdir(parents=True)
    text = index_from_csv("lists/mine.csv", out="deep/er/index.csv")
    (tmp_path / "deep" / "er" / "index.csv").write_text(text)
    entries = read_index(tmp_path / "deep" / "er" / "index.csv")
    assert [(e.id, e.split) for e in entries] == [("a", "train"), ("b", "val")]
    assert all(e.protein.is_file() and e.ligand.is_file() and e.pocket_ligand == e.ligand for e in entries)
    assert text.splitlines()[1].split(",")[1] == "../../data/6XG5_TOP_protein.pdb.gz"
    (tmp_path / "lists" / "bad.csv").write_text("id,protein,ligand\na,../data/none.pdb,../data/6XG5_TOP_ligand.sdf\n")
    with pytest.raises(FileNotFoundError, match=r"bad.csv: line 2: id a: protein file not found"):
        index_from_csv("lists/bad.csv", out="deep/er/index.csv")


def test_dot_ids_and_2d_pocket_ligands_are_refused(tmp_path):
    for cid in (".", ".."):  # a folder every output already has: 'baseline vina' skipped it as done
        path = tmp_path / "dots.csv"
        path.write_text(f"id,protein,ligand\n{cid},p.pdb,l.sdf\n")
        with pytest.raises(ValueError, match=f"line 2: bad id '{re.escape(cid)}'"):
            read_index(path)
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    flat = Chem.MolFromMolFile(str(DATA / "6XG5_TOP_ligand.sdf"))
    rdDepictor.Compute2DCoords(flat)
    Chem.MolToMolFile(flat, str(tmp_path / "flat.sdf"))
    index = tmp_path / "index.csv"
    index.write_text(f"id,protein,ligand,pocket_ligand\nA,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,"
                     "flat.sdf\n")
    (entry,) = read_index(index)
    with pytest.raises(ValueError, match="flat.sdf: pocket ligand has no 3D coordinates"):
        entry.pocket()
