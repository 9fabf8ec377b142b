"""`docking train-ranker`: per-pose RMSD labels from poses.sdf, rankings compared, files written at once."""
import json
from pathlib import Path

import pytest
from rdkit import Chem

from sciffusion.domains.docking.conformers import with_positions
from sciffusion.pipelines.docking.ranker_train import RankerTrainConfig, parse_pair, run_ranker_train

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"
IDS = ("6YQW_82I", "6XG5_TOP")
SHIFTS = (4.0, 0.5, 3.0, 6.0)  # Å along x; the second pose is the only one within 2 Å


def _pred(root: Path, confidence_sign: float) -> Path:
    for cid in IDS:
        ref = Chem.MolFromMolFile(str(DATA / f"{cid}_ligand.sdf"))
        (root / cid).mkdir(parents=True)
        writer = Chem.SDWriter(str(root / cid / "poses.sdf"))
        for k, shift in enumerate(SHIFTS):
            mol = with_positions(ref, ref.GetConformer().GetPositions() + [shift, 0.0, 0.0])
            props = {"rank": k + 1, "model_confidence": confidence_sign * shift, "vina_score": shift - 8,
                     "vina_intra": 0.1 * k, "energy_before_refine": 2 * shift, "consensus_fraction": 0.25,
                     "consensus_rmsd": 1.0 + k, "ligand": cid}
            for name, value in props.items():
                mol.SetProp(name, str(value))
            writer.write(mol)
        writer.close()
    return root


def test_rankings_on_train_and_val_and_outputs(tmp_path):
    train = _pred(tmp_path / "train", confidence_sign=-1.0)  # confidence right
    val = _pred(tmp_path / "val", confidence_sign=+1.0)  # confidence wrong on val: rankings must differ
    record = run_ranker_train(RankerTrainConfig(train=((train, DATA),), val=((val, DATA),), out=tmp_path / "rk"),
                              log=lambda s: None)
    m = record["metrics"]
    assert m["train"]["oracle"]["top1_rmsd_lt2"] == 1.0 and m["train"]["vina"]["top1_rmsd_lt2"] == 1.0
    assert m["train"]["confidence"]["top1_rmsd_lt2"] == 1.0 and m["val"]["confidence"]["top1_rmsd_lt2"] == 0.0
    assert m["val"]["vina"]["top1_rmsd_lt2"] == 1.0 and m["train"]["learned"]["top1_rmsd_lt2"] == 1.0
    assert m["val"]["oracle"]["median_top1_rmsd"] == pytest.approx(0.5, abs=1e-6)
    saved = json.loads((tmp_path / "rk" / "ranker.json").read_text())
    assert saved["train_ids"] == sorted(IDS) and len(saved["ranker"]["weights"]) == 6
    assert "learned" in (tmp_path / "rk" / "table.txt").read_text()
    assert len((tmp_path / "rk" / "poses.csv").read_text().splitlines()) == 1 + 2 * 2 * len(SHIFTS)


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="expected PRED_DIR=REF_DIR"):
        parse_pair("nothing", "--train")
    with pytest.raises(FileNotFoundError, match="prediction folder not found"):
        RankerTrainConfig(train=((tmp_path / "none", DATA),), out=tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no <id>/poses.sdf"):
        run_ranker_train(RankerTrainConfig(train=((tmp_path / "empty", DATA),), out=tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_bundled_ranker_loads_and_bad_ranker_files_are_one_line(tmp_path):
    from sciffusion.domains.docking.pose_ranker import FEATURES
    from sciffusion.pipelines.docking.dock_inputs import DockConfig, pose_ranker_of

    base = dict(protein=DATA / "6XG5_TOP_protein.pdb.gz", ligand="CCO", out=tmp_path / "o")
    assert pose_ranker_of(DockConfig(**base)).features == FEATURES
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a pose ranker JSON"):
        pose_ranker_of(DockConfig(**base, ranker=bad))
    bad.write_text('{"features": ["a"]}')
    with pytest.raises(ValueError, match="not a ranker file"):
        pose_ranker_of(DockConfig(**base, ranker=bad))
    with pytest.raises(FileNotFoundError, match="pose ranker not found"):
        pose_ranker_of(DockConfig(**base, ranker=tmp_path / "none.json"))
