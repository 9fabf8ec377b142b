from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.pose_io import write_ranked_poses

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def test_ranked_poses_round_trip_with_hydrogens(tmp_path):
    mol = read_ligand(DATA / "6YQW_82I_ligand.sdf").mol
    pos = mol.GetConformer().GetPositions()
    folder = write_ranked_poses(tmp_path / "6YQW_82I", mol, [pos, pos + 1.0], scores=[-5.0, -4.0], add_hs=True)
    first = Chem.MolFromMolFile(str(folder / "rank1.sdf"), removeHs=False)
    second = Chem.MolFromMolFile(str(folder / "rank2.sdf"))
    assert first.GetNumAtoms() > mol.GetNumAtoms()  # hydrogens added back
    heavy = [a.GetIdx() for a in first.GetAtoms() if a.GetAtomicNum() > 1]
    np.testing.assert_allclose(first.GetConformer().GetPositions()[heavy], pos, atol=1e-3)
    h_pos = first.GetConformer().GetPositions()[[a.GetIdx() for a in first.GetAtoms() if a.GetAtomicNum() == 1]]
    assert np.abs(h_pos).sum() > 0
    np.testing.assert_allclose(second.GetConformer().GetPositions(), pos + 1.0, atol=1e-3)
    tagged = next(iter(Chem.SDMolSupplier(str(folder / "rank1.sdf"))))
    assert tagged.GetProp("score") == "-5.0000"
    with pytest.raises(FileExistsError):
        write_ranked_poses(tmp_path / "6YQW_82I", mol, [pos])
    with pytest.raises(ValueError, match="2 scores for 1 poses"):
        write_ranked_poses(tmp_path / "x", mol, [pos], scores=[1.0, 2.0])


def test_extra_files_and_names_land_in_the_same_folder(tmp_path):
    mol = read_ligand(DATA / "6YQW_82I_ligand.sdf").mol
    pos = mol.GetConformer().GetPositions()
    folder = write_ranked_poses(tmp_path / "c", mol, [pos], name_prefix="c_vina_", extra_files={"meta.json": "{}"})
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "rank1.sdf"]
    assert Chem.MolFromMolFile(str(folder / "rank1.sdf")).GetProp("_Name") == "c_vina_rank1"


def test_timing_round_trip_and_bad_values(tmp_path):
    from sciffusion.domains.docking.pose_io import read_timing, timing_csv_text

    path = tmp_path / "timing.csv"
    path.write_text(timing_csv_text({"A": 1.5, "B": 40.0}))
    assert read_timing(path) == {"A": 1.5, "B": 40.0}
    for bad in ("abc", "nan", "-2", ""):
        path.write_text(f"id,seconds\nA,1.0\nB,{bad}\n")
        with pytest.raises(ValueError, match=rf"timing.csv: line 3: seconds must be a number >= 0, got '{bad}'"):
            read_timing(path)
    path.write_text("id,time\nA,1\n")
    with pytest.raises(ValueError, match="timing.csv: needs columns id,seconds"):
        read_timing(path)
