from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from sciffusion.domains.docking.index import build_index, read_index
from sciffusion.pipelines.docking.prepare import PrepareConfig, load_prepared, run_prepare

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def _index(tmp_path: Path) -> Path:
    path = tmp_path / "index.csv"
    path.write_text(
        "id,protein,ligand,pocket_ligand,pocket_residues\n"
        f"6YQW_82I,{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/6YQW_82I_ligand.sdf,{DATA}/6YQW_82I_ligand.sdf,\n"
        f"6XG5_TOP,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,,\n"
        f"BAD_RES,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,,Z:999\n"
        f"NO_FILE,{DATA}/missing.pdb,{DATA}/6XG5_TOP_ligand.sdf,,\n"
    )
    return path


def test_prepare_writes_torch_only_cache_failures_and_resumes(tmp_path):
    index = _index(tmp_path)
    cfg = PrepareConfig(index=index, out=tmp_path / "cache")
    summary = run_prepare(cfg)
    assert summary == {"complexes": 4, "prepared": 2, "cached": 0, "failed": 2}
    failures = pd.read_csv(tmp_path / "cache" / "failures.csv")
    assert failures["id"].tolist() == ["BAD_RES", "NO_FILE"]
    assert "residue Z:999 not found" in failures["reason"][0] and "not found" in failures["reason"][1]
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert set(manifest["entries"]) == {"6YQW_82I", "6XG5_TOP"} and "torch" in manifest["versions"]
    # loads in a fresh interpreter with torch alone (rdkit/gemmi blocked)
    code = ("import sys; sys.modules['rdkit'] = None; sys.modules['gemmi'] = None; import torch; "
            f"d = torch.load(r'{tmp_path / 'cache' / '6XG5_TOP.pt'}', weights_only=True); "
            "print(d['ligand']['pos'].shape[0], d['ligand']['rot_edges'].shape[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["21", "5"]
    blob = load_prepared(tmp_path / "cache" / "6YQW_82I.pt")
    assert blob["pocket"]["size"].min() > 8.0 and blob["meta"]["inputs"]["ligand"]
    mtime = (tmp_path / "cache" / "6YQW_82I.pt").stat().st_mtime_ns
    again = run_prepare(cfg)
    assert again["cached"] == 2 and again["prepared"] == 0
    assert (tmp_path / "cache" / "6YQW_82I.pt").stat().st_mtime_ns == mtime


def test_graph_from_cache_matches_direct_build(tmp_path):
    from sciffusion.domains.docking.graphs import build_graph

    run_prepare(PrepareConfig(index=_index(tmp_path), out=tmp_path / "cache", include_atoms=True, limit=1))
    graph = build_graph(load_prepared(tmp_path / "cache" / "6YQW_82I.pt"))
    assert graph["ligand"].pos.shape == (11, 3) and graph["atom"].pos.shape[0] > 100
    assert graph["ligand", "radius", "receptor"].edge_index.shape[1] > 0


def test_index_round_trip_and_errors(tmp_path):
    entries = read_index(_index(tmp_path))
    assert [e.id for e in entries][:2] == ["6YQW_82I", "6XG5_TOP"]
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
    box = tmp_path / "box.csv"
    box.write_text("id,protein,ligand,pocket_center_x,pocket_center_y,pocket_center_z,pocket_size_x,pocket_size_y,pocket_size_z\n"
                   "a,p.pdb,l.sdf,1,2,3,10,10,x\n")
    with pytest.raises(ValueError, match="pocket box needs all six numbers"):
        read_index(box)


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
