from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sciffusion.pipelines.docking.vina_baseline import VinaConfig

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="--exhaustiveness"):
        VinaConfig(index=tmp_path / "i.csv", out=tmp_path, exhaustiveness=0)
    with pytest.raises(ValueError, match="--workers"):
        VinaConfig(index=tmp_path / "i.csv", out=tmp_path, workers=0)
    for margin in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="--pocket-margin: must be a finite number >= 0"):
            VinaConfig(index=tmp_path / "i.csv", out=tmp_path, pocket_margin=margin)
    for seed in (-1, 2**32):
        with pytest.raises(ValueError, match=r"--seed: must be an integer in \[0, 4294967295\]"):
            VinaConfig(index=tmp_path / "i.csv", out=tmp_path, seed=seed)


@pytest.mark.slow
def test_vina_redocks_small_ligand_and_evaluates(tmp_path):
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    from sciffusion.pipelines.docking.evaluate import EvaluateConfig, run_evaluate
    from sciffusion.pipelines.docking.vina_baseline import run_vina_baseline

    index = tmp_path / "index.csv"
    index.write_text("id,protein,ligand,pocket_ligand\n"
                     f"6YQW_82I,{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/6YQW_82I_ligand.sdf,{DATA}/6YQW_82I_ligand.sdf\n"
                     f"BROKEN,{DATA}/6YQW_82I_pocket.pdb.gz,{DATA}/nope.sdf,\n")
    cfg = VinaConfig(index=index, out=tmp_path / "pred", exhaustiveness=2, n_poses=3)
    summary = run_vina_baseline(cfg)
    assert summary == {"complexes": 2, "done": 1, "skipped_existing": 0, "failed": 1}
    folder = tmp_path / "pred" / "6YQW_82I"
    assert sorted(p.name for p in folder.glob("rank*.sdf")) == ["rank1.sdf", "rank2.sdf", "rank3.sdf"]
    meta = json.loads((folder / "meta.json").read_text())
    from rdkit import Chem
    poses = [next(iter(Chem.SDMolSupplier(str(folder / f"rank{k}.sdf")))) for k in (1, 2, 3)]
    assert [p.GetProp("_Name") for p in poses] == ["6YQW_82I_vina_rank1", "6YQW_82I_vina_rank2", "6YQW_82I_vina_rank3"]
    assert [float(p.GetProp("vina_kcal_mol")) for p in poses] == meta["vina_kcal_mol"]
    assert all(p.GetNumAtoms() == 11 for p in poses) and meta["protein_warnings"] == []
    config = json.loads((tmp_path / "pred" / "config.json").read_text())
    assert set(config["versions"]) == {"vina", "meeko", "openbabel-wheel", "rdkit", "sciffusion"}
    failures = pd.read_csv(tmp_path / "pred" / "failures.csv")
    assert failures["id"].tolist() == ["BROKEN"] and "nope.sdf" in failures["error"][0]
    assert run_vina_baseline(cfg)["skipped_existing"] == 1  # resumable
    report = run_evaluate(EvaluateConfig(pred=tmp_path / "pred", ref=DATA, out=tmp_path / "report", top_k=3))
    stats = report["per_seed"]["0"]
    assert stats["n"] == 1 and stats["median_seconds"] > 0
    assert stats["topk_rmsd_lt2"] == 1.0  # an 11-atom fragment in its own pocket: Vina finds it


def test_reruns_keep_earlier_timings_and_failures(tmp_path):
    """A run over another index (e.g. retrying one complex) must not drop what earlier runs recorded."""
    import csv as _csv
    import json as _json

    from sciffusion.pipelines.docking.vina_baseline import _write_failures, _write_timing

    for cid, sec in [("AAAA_X", 12.5), ("BBBB_Y", 40.0)]:
        (tmp_path / cid).mkdir()
        (tmp_path / cid / "meta.json").write_text(_json.dumps({"seconds": sec}))
    _write_failures(tmp_path, [("CCCC_Z", "ValueError: bad"), ("DDDD_W", "TypeError: B")], attempted={"CCCC_Z", "DDDD_W"})
    # second run: only DDDD_W, which now docks
    (tmp_path / "DDDD_W").mkdir()
    (tmp_path / "DDDD_W" / "meta.json").write_text(_json.dumps({"seconds": 300.0}))
    _write_timing(tmp_path)
    _write_failures(tmp_path, [], attempted={"DDDD_W"})
    with open(tmp_path / "timing.csv") as fh:
        assert {r["id"]: float(r["seconds"]) for r in _csv.DictReader(fh)} == {
            "AAAA_X": 12.5, "BBBB_Y": 40.0, "DDDD_W": 300.0}
    with open(tmp_path / "failures.csv") as fh:
        assert [(r["id"], r["error"]) for r in _csv.DictReader(fh)] == [("CCCC_Z", "ValueError: bad")]


def test_broken_earlier_outputs_are_named(tmp_path):
    """Resuming reads earlier runs' meta.json and failures.csv: a broken one is a one-line error naming it."""
    from sciffusion.pipelines.docking.vina_baseline import _write_failures, _write_timing

    (tmp_path / "AAAA_X").mkdir()
    (tmp_path / "AAAA_X" / "meta.json").write_text('{"seconds": "slow"}')
    with pytest.raises(ValueError, match=r"AAAA_X/meta.json: no readable 'seconds' \(ValueError"):
        _write_timing(tmp_path)
    (tmp_path / "AAAA_X" / "meta.json").write_text('{"seconds": 3.5')
    with pytest.raises(ValueError, match=r"AAAA_X/meta.json: no readable 'seconds' \(JSONDecodeError"):
        _write_timing(tmp_path)
    (tmp_path / "failures.csv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"failures.csv: not UTF-8 text"):
        _write_failures(tmp_path, [], attempted=set())
    (tmp_path / "failures.csv").write_text("name,reason\nX,bad\n")
    with pytest.raises(ValueError, match=r"failures.csv: needs columns id,error"):
        _write_failures(tmp_path, [], attempted=set())


def test_out_that_is_a_file_is_named(tmp_path):
    index = tmp_path / "i.csv"
    index.write_text("id,protein,ligand\n")
    with pytest.raises(NotADirectoryError, match="--out: .*i.csv is a file, not a PRED_DIR folder"):
        VinaConfig(index=index, out=index)
