from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

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
    assert summary == {"complexes": 4, "prepared": 2, "cached": 0, "failed": 2, "warned": 0}
    failures = pd.read_csv(tmp_path / "cache" / "failures.csv")
    assert failures["id"].tolist() == ["BAD_RES", "NO_FILE"] and failures["line"].tolist() == [4, 5]
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


def test_bad_box_row_fails_alone_with_its_line(tmp_path):
    index = tmp_path / "index.csv"
    header = "id,protein,ligand,pocket_center_x,pocket_center_y,pocket_center_z,pocket_size_x,pocket_size_y,pocket_size_z\n"
    index.write_text(header + f"FLAT,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,0,0,0,0.0,10,10\n"
                     + f"6XG5_TOP,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,,,,,,\n")
    cfg = PrepareConfig(index=index, out=tmp_path / "cache")
    summary = run_prepare(cfg)
    assert (summary["prepared"], summary["failed"]) == (1, 1)
    failures = pd.read_csv(tmp_path / "cache" / "failures.csv")
    assert failures.values.tolist() == [["FLAT", 2, f"ValueError: {index}: line 2: id FLAT: box: every size must "
                                                    "be > 0 Å, got (0.0, 10.0, 10.0)"]]
    # a stale entry of the same id from an earlier, good index row is not reported as cached
    index.write_text(header + f"FLAT,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,,,,,,\n")
    assert run_prepare(cfg)["prepared"] == 1
    moved = header + f"FLAT,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,0,0,0,30,30,30\n"
    index.write_text(moved)  # an edited pocket rebuilds the entry
    assert run_prepare(cfg)["prepared"] == 1 and run_prepare(cfg)["cached"] == 1
    index.write_text(header + f"FLAT,{DATA}/6XG5_TOP_pocket.pdb.gz,{DATA}/6XG5_TOP_ligand.sdf,0,0,0,0,10,10\n")
    assert run_prepare(cfg)["failed"] == 1 and not (tmp_path / "cache" / "FLAT.pt").exists()


def test_protein_that_may_be_truncated_is_recorded_in_entry_and_manifest(tmp_path):
    import gzip

    lines = gzip.open(DATA / "6XG5_TOP_pocket.pdb.gz", "rt").read().splitlines(keepends=True)
    atoms = [i for i, line in enumerate(lines) if line.startswith(("ATOM", "HETATM"))]
    cut = tmp_path / "cut_pocket.pdb"
    cut.write_text("".join(lines[: atoms[len(atoms) // 2] + 1]))  # cut at a line boundary, no END
    index = tmp_path / "index.csv"
    index.write_text(f"id,protein,ligand\nCUT,{cut},{DATA}/6XG5_TOP_ligand.sdf\n")
    summary = run_prepare(PrepareConfig(index=index, out=tmp_path / "cache"))
    assert summary["prepared"] == 1 and summary["warned"] == 1
    warning = f"{cut}: no END record and the file stops inside the coordinate section"
    assert load_prepared(tmp_path / "cache" / "CUT.pt")["meta"]["warnings"][0].startswith(warning)
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert manifest["entries"]["CUT"]["warnings"][0].startswith(warning)


def test_config_rejects_non_finite_margin(tmp_path):
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="--pocket-margin: must be a finite number >= 0"):
            PrepareConfig(index=tmp_path / "i.csv", out=tmp_path / "c", pocket_margin=bad)


def test_cache_holds_conformers_whose_change_replays_with_torch_alone(tmp_path):
    """Format 3: conformers and their change onto the crystal, replayed by the kinematics in a
    fresh interpreter without RDKit/gemmi."""
    from sciffusion.pipelines.docking.prepare import FORMAT_VERSION

    cfg = PrepareConfig(index=_index(tmp_path), out=tmp_path / "cache", limit=2, conformers=2)
    assert run_prepare(cfg)["prepared"] == 2 and FORMAT_VERSION == 3
    blob = load_prepared(tmp_path / "cache" / "6XG5_TOP.pt")
    assert blob["meta"]["config"]["conformers"] == 2 and blob["meta"]["config"]["format_version"] == 3
    assert blob["conformers"]["pos"].shape == (2, 21, 3) and blob["conformers"]["torsion_delta"].shape == (2, 5)
    code = ("import sys; sys.modules['rdkit'] = None; sys.modules['gemmi'] = None; import torch\n"
            "from sciffusion.domains.docking.graphs import build_graph\n"
            "from sciffusion.domains.docking.collate import move_ligands\n"
            f"d = torch.load(r'{tmp_path / 'cache' / '6XG5_TOP.pt'}', weights_only=True)\n"
            "g = build_graph(d, conformer=0); lig = g['ligand']\n"
            "new = move_ligands(g, g.conformer_translation, g.conformer_rotation, lig.rot_conformer_delta, "
            "pos=lig.conformer_pos)\n"
            "print(float(((new - lig.pos) ** 2).sum(-1).mean().sqrt()), float(d['conformers']['rmsd_matched'][0]), "
            "float(d['conformers']['rmsd_rigid'][0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    replayed, matched, rigid = map(float, out)
    assert abs(replayed - matched) < 1e-3 and matched < 0.5 * rigid
    none = PrepareConfig(index=_index(tmp_path), out=tmp_path / "bare", limit=1, conformers=0)
    run_prepare(none)
    assert "conformers" not in load_prepared(tmp_path / "bare" / "6YQW_82I.pt")
    with pytest.raises(ValueError, match="--conformers: must be >= 0"):
        PrepareConfig(index=tmp_path / "i.csv", out=tmp_path / "c", conformers=-1)


def test_out_that_is_a_file_is_named(tmp_path):
    index = _index(tmp_path)
    with pytest.raises(NotADirectoryError, match="--out: .*index.csv is a file, not a cache folder"):  # EEXIST before
        PrepareConfig(index=index, out=index)
