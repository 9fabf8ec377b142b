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
