from __future__ import annotations

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
    assert sorted(p.name for p in (tmp_path / "pred" / "6YQW_82I").glob("rank*.sdf")) == [
        "rank1.sdf", "rank2.sdf", "rank3.sdf"]
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
