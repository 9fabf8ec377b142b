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
