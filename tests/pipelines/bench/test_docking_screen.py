"""`bench docking-screen`: ligands drawn from a SMILES table, docked by sciffusion dock (and Vina), throughput table."""
import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

from sciffusion.pipelines.bench.docking_screen import (
    ScreenConfig, draw_ligands, format_screen_table, read_smiles_table, run_screen,
)

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
SMILES = ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "OCC(O)CO", "CCN")


def _table(tmp_path: Path) -> Path:
    path = tmp_path / "metadata.csv"
    path.write_text("id,smiles,mol_wt\n" + "".join(f"L{k},{s},1\n" for k, s in enumerate(SMILES)))
    return path


def test_smiles_tables_ids_and_seeded_draws(tmp_path):
    rows = read_smiles_table(_table(tmp_path))
    assert rows[0] == ("L0", "CCO") and len(rows) == 5
    ids = tmp_path / "train.txt"
    ids.write_text("L1\nL3\n")
    assert read_smiles_table(_table(tmp_path), ids) == [("L1", "c1ccccc1O"), ("L3", "OCC(O)CO")]
    smi = tmp_path / "x.smi"
    smi.write_text("# header\nCCO ethanol\nCCN\n")
    assert read_smiles_table(smi) == [("ethanol", "CCO"), ("ligand_3", "CCN")]
    a, b = draw_ligands(rows, 3, seed=1), draw_ligands(rows, 3, seed=1)
    assert a == b and len(set(a)) == 3 and draw_ligands(rows, 3, seed=2) != a
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n")
    with pytest.raises(ValueError, match="no 'smiles' column"):
        read_smiles_table(bad)
    ids.write_text("nothing\n")
    with pytest.raises(ValueError, match="no SMILES rows with an id"):
        read_smiles_table(_table(tmp_path), ids)


def test_config_errors_are_one_line(tmp_path):
    base = dict(protein=DATA / "6XG5_TOP_protein.pdb.gz", ref_ligand=DATA / "6XG5_TOP_ligand.sdf",
                ligands=_table(tmp_path), out=tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="--protein"):
        ScreenConfig(**dict(base, protein=tmp_path / "none.pdb"))
    with pytest.raises(ValueError, match="--vina-count"):
        ScreenConfig(**base, count=2, vina_count=3)
    with pytest.raises(ValueError, match="--count"):
        ScreenConfig(**base, count=0)


def test_screen_without_vina_docks_every_drawn_ligand(tmp_path):
    out = tmp_path / "screen"
    summary = run_screen(ScreenConfig(protein=DATA / "6XG5_TOP_protein.pdb.gz", ref_ligand=DATA / "6XG5_TOP_ligand.sdf",
                                      ligands=_table(tmp_path), out=out, count=2, vina_count=0, samples=2, steps=3,
                                      refine_steps=2, conformers=1), log=lambda s: None)
    ours = summary["methods"]["sciffusion dock"]
    assert ours["ligands"] == 2 and ours["docked"] == 2 and ours["ligands_per_minute"] > 0
    assert "vina" not in summary["methods"]
    rows = list(csv.DictReader(open(out / "per_ligand.csv")))
    assert len(rows) == 2 and all(r["dock_status"] == "ok" and math.isfinite(float(r["dock_vina_score"])) for r in rows)
    assert all(r["vina_status"] == "not run" for r in rows)
    assert json.loads((out / "summary.json").read_text())["n_ligands"] == 2
    assert "sciffusion dock" in (out / "table.txt").read_text() and (out / "throughput.png").stat().st_size > 1000


@pytest.mark.skipif(importlib.util.find_spec("vina") is None, reason="AutoDock Vina not installed")
def test_screen_with_vina_reports_a_ratio(tmp_path):
    out = tmp_path / "screen"
    summary = run_screen(ScreenConfig(protein=DATA / "6YQW_82I_protein.pdb.gz", ref_ligand=DATA / "6YQW_82I_ligand.sdf",
                                      ligands=_table(tmp_path), out=out, count=1, exhaustiveness=1, samples=2,
                                      steps=3, refine_steps=2, conformers=1), log=lambda s: None)
    vina = summary["methods"]["vina"]
    assert vina["docked"] == 1 and vina["ligands_per_minute"] > 0
    ratio = summary["methods"]["sciffusion dock"]["ratio_vs_vina"]
    assert ratio == pytest.approx(summary["methods"]["sciffusion dock"]["ligands_per_minute"] / vina["ligands_per_minute"])
    assert "x vina" in format_screen_table(summary) and len(list((out / "vina").glob("*.sdf"))) == 1
