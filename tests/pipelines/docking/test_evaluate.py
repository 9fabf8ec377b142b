from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from sciffusion.domains.docking.conformers import with_positions
from sciffusion.pipelines.docking.evaluate import EvaluateConfig, run_evaluate, seed_runs

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
IDS = ("6YQW_82I", "6XG5_TOP")


def _crystal_pred(root: Path, ids=IDS) -> Path:
    for cid in ids:
        (root / cid).mkdir(parents=True)
        source = cid if cid in IDS else IDS[0]
        shutil.copy(DATA / f"{source}_ligand.sdf", root / cid / "rank1.sdf")
    return root


def test_crystal_against_itself_is_rmsd_zero_and_pb_valid(tmp_path):
    pred = _crystal_pred(tmp_path / "pred")
    summary = run_evaluate(EvaluateConfig(pred=pred, ref=DATA, out=tmp_path / "report", name="crystal"))
    table = pd.read_csv(tmp_path / "report" / "per_complex.csv")
    assert sorted(table["id"]) == sorted(IDS)
    assert (table["top1_rmsd"] < 1e-6).all() and (table["top1_centroid"] < 1e-6).all()
    assert table["top1_pb_valid"].all(), table["top1_pb_failed"].tolist()
    stats = summary["per_seed"]["0"]
    assert stats["top1_rmsd_lt2"] == 1.0 and stats["top1_rmsd_lt2_pb_valid"] == 1.0 and stats["top1_pb_valid"] == 1.0
    saved = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert saved["per_seed"]["0"]["n"] == 2
    assert (tmp_path / "report" / "rmsd_cdf.png").stat().st_size > 1000


def _moved(mol, shift: float):
    """``mol`` shifted by ``shift`` Å along x (every atom, one conformer)."""
    return with_positions(mol, mol.GetConformer().GetPositions() + [shift, 0.0, 0.0])


def test_ranking_seeds_missing_and_timing(tmp_path):
    """Rank order is the method's; a missing prediction is a failure; mean ± sd over seeds."""
    ref = Chem.MolFromMolFile(str(DATA / "6YQW_82I_ligand.sdf"))
    pred = tmp_path / "pred"
    for seed, shift in (("1", 3.0), ("2", 0.5)):
        folder = pred / f"seed_{seed}" / "6YQW_82I"
        folder.mkdir(parents=True)
        for rank, s in ((1, shift), (2, 0.0)):
            with Chem.SDWriter(str(folder / f"rank{rank}.sdf")) as w:
                w.write(_moved(ref, s))
        (pred / f"seed_{seed}" / "timing.csv").write_text(f"id,seconds\n6YQW_82I,{10 * int(seed)}\n")
    ids = tmp_path / "ids.txt"
    ids.write_text("6YQW_82I\n6XG5_TOP\n")
    summary = run_evaluate(EvaluateConfig(pred=pred, ref=DATA, out=tmp_path / "r", ids_file=ids,
                                          posebusters=False))
    assert set(seed_runs(pred)) == {"1", "2"}
    s1, s2 = summary["per_seed"]["1"], summary["per_seed"]["2"]
    assert s1["top1_rmsd_lt2"] == 0.0 and s1["topk_rmsd_lt2"] == 0.5  # rank 2 is the crystal pose
    assert s2["top1_rmsd_lt2"] == 0.5 and s1["n_missing"] == 1
    assert summary["mean_sd"]["top1_rmsd_lt2"]["mean"] == pytest.approx(0.25)
    assert summary["mean_sd"]["top1_rmsd_lt2"]["sd"] == pytest.approx(math.sqrt(0.125))
    assert s1["median_seconds"] == 10.0 and s2["median_seconds"] == 20.0
    rows = pd.read_csv(tmp_path / "r" / "per_complex.csv")
    assert rows.loc[(rows.seed == 1) & (rows.id == "6YQW_82I"), "top1_rmsd"].item() == pytest.approx(3.0, abs=1e-6)
    assert (rows.loc[rows.id == "6XG5_TOP", "error"] == "no prediction").all()


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="prediction folder not found"):
        EvaluateConfig(pred=tmp_path / "nope", ref=DATA, out=tmp_path / "r")
    pred = _crystal_pred(tmp_path / "pred", ids=("1ABC_XYZ",))
    with pytest.raises(FileNotFoundError, match="reference ligand for 1ABC_XYZ"):
        run_evaluate(EvaluateConfig(pred=pred, ref=DATA, out=tmp_path / "r"))
    assert not (tmp_path / "r").exists()
    (tmp_path / "exists").mkdir()
    with pytest.raises(FileExistsError):
        run_evaluate(EvaluateConfig(pred=pred, ref=DATA, out=tmp_path / "exists"))


def test_unreadable_predictions_are_failed_poses_not_crashes(tmp_path):
    pred = _crystal_pred(tmp_path / "pred")
    (pred / IDS[0] / "rank1.sdf").write_bytes(b"")  # RDKit: OSError before
    (pred / IDS[1] / "rank1.sdf").write_text("garbage\n")
    summary = run_evaluate(EvaluateConfig(pred=pred, ref=DATA, out=tmp_path / "r", posebusters=False))
    assert summary["per_seed"]["0"]["n"] == 2 and summary["per_seed"]["0"]["top1_rmsd_lt5"] == 0.0
    rows = pd.read_csv(tmp_path / "r" / "per_pose.csv")
    assert rows["error"].str.contains("rank1.sdf: RDKit could not read the pose").all()


def test_bad_ids_file_reference_protein_and_out_are_named(tmp_path):
    pred = _crystal_pred(tmp_path / "pred")
    ids = tmp_path / "ids.txt"
    for content, message in ((b"", "lists no complex ids"), (b"\xff\xfe\x00", "not UTF-8 text"),
                             (b"..\n", "'..' is not a complex id")):
        ids.write_bytes(content)
        with pytest.raises(ValueError, match=f"ids.txt: {message}"):
            run_evaluate(EvaluateConfig(pred=pred, ref=DATA, out=tmp_path / "r", ids_file=ids))
    ref = tmp_path / "ref"
    ref.mkdir()
    shutil.copy(DATA / "6YQW_82I_ligand.sdf", ref)
    (ref / "6YQW_82I_protein.pdb.gz").write_bytes((DATA / "6YQW_82I_protein.pdb.gz").read_bytes()[:2000])
    ids.write_text("6YQW_82I\n")
    with pytest.raises(ValueError, match="6YQW_82I_protein.pdb.gz: truncated or unreadable gzip file"):  # EOFError
        run_evaluate(EvaluateConfig(pred=pred, ref=ref, out=tmp_path / "r", ids_file=ids, top_k=1))
    for out in (pred, tmp_path):
        with pytest.raises(ValueError, match="the --pred input"):
            EvaluateConfig(pred=pred, ref=DATA, out=out, overwrite=True)
    assert not (tmp_path / "r").exists() and (pred / IDS[0] / "rank1.sdf").exists()
