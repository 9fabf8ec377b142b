from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sciffusion.pipelines.docking.vina_agreement import VinaAgreementConfig, agreement

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def test_config_validation_and_agreement_maths(tmp_path):
    with pytest.raises(ValueError, match="--limit: must be >= 1"):
        VinaAgreementConfig(index=tmp_path / "i.csv", out=tmp_path / "o", limit=0)
    with pytest.raises(ValueError, match="--perturbations: must be in 0..100"):
        VinaAgreementConfig(index=tmp_path / "i.csv", out=tmp_path / "o", perturbations=-1)
    stats = agreement([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert stats["pearson_r"] == pytest.approx(1.0) and stats["mae_kcal_mol"] == pytest.approx(2.0)
    assert agreement([1.0], [1.0])["pearson_r"] is None


def test_cli_scores_a_bundled_complex_like_vina(tmp_path):
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    from sciffusion.cli.main import app

    index = tmp_path / "index.csv"
    lig = DATA / "6YQW_82I_ligand.sdf"
    index.write_text(f"id,protein,ligand,split,pocket_ligand\n6YQW_82I,{DATA / '6YQW_82I_protein.pdb.gz'},{lig},val,{lig}\n")
    out = tmp_path / "agree"
    result = CliRunner().invoke(app, ["docking", "vina-agreement", "--index", str(index), "--out", str(out),
                                      "--perturbations", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "Pearson r" in result.output
    rows = pd.read_csv(out / "poses.csv")
    assert len(rows) == 3 and (out / "scatter.png").stat().st_size > 0
    crystal = rows[rows["pose"] == 0].iloc[0]
    assert crystal["ours_inter_direct"] == pytest.approx(crystal["vina_inter"], abs=0.05)  # Vina: -5.07 kcal/mol
    assert abs(rows["ours_total"] - rows["vina_total"]).max() < 0.1 * abs(rows["vina_total"]).max() + 0.3
    report = json.loads((out / "report.json").read_text())
    assert report["complexes"] == 1 and report["failed"] == []
    again = CliRunner().invoke(app, ["docking", "vina-agreement", "--index", str(index), "--out", str(out)])
    assert again.exit_code != 0 and "already exists" in again.output
