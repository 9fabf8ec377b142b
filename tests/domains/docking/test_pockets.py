from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciffusion.domains.docking.ligand_io import read_ligand
from sciffusion.domains.docking.pockets import (
    BlindPocket, Box, BoxPocket, LigandPocket, ResiduePocket, ligand_pocket_from_mol, resolve_pocket,
)
from sciffusion.domains.docking.protein import read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


@pytest.fixture(scope="module")
def protein():
    return read_protein(DATA / "6YQW_82I_pocket.pdb.gz")


def test_reference_ligand_box_is_bbox_plus_margin(protein):
    mol = read_ligand(DATA / "6YQW_82I_ligand.sdf").mol
    pos = mol.GetConformer().GetPositions()
    box = resolve_pocket(ligand_pocket_from_mol(mol, margin=4.0), protein)
    np.testing.assert_allclose(box.size, pos.max(0) - pos.min(0) + 8.0)
    np.testing.assert_allclose(box.center, (pos.max(0) + pos.min(0)) / 2)
    assert box.contains(pos).all()


def test_blind_covers_protein_and_residue_box(protein):
    box = resolve_pocket(BlindPocket(), protein)
    assert box.contains(protein.atom_pos).all()
    key = f"{protein.residue_chain[0]}:{protein.residue_number[0]}"
    rbox = resolve_pocket(ResiduePocket((key,), margin=0.0), protein)
    atoms = protein.atom_pos[protein.atom_residue == 0]
    assert rbox.contains(atoms).all() and rbox.size[0] < box.size[0]


def test_errors(protein):
    far = BoxPocket(Box(center=(500.0, 500.0, 500.0), size=(10.0, 10.0, 10.0)))
    with pytest.raises(ValueError, match="holds no protein atom"):
        resolve_pocket(far, protein)
    with pytest.raises(ValueError, match="size must be > 0"):
        Box(center=(0.0, 0.0, 0.0), size=(10.0, 0.0, 10.0))
    with pytest.raises(ValueError, match="residue Z:9999 not found"):
        resolve_pocket(ResiduePocket(("Z:9999",)), protein)
    key = f"{protein.residue_chain[0]}:{protein.residue_number[0]}"
    with pytest.raises(ValueError, match=r"2 of 3 residues Z:9999 Y:1 not found$"):
        resolve_pocket(ResiduePocket(("Z:9999", key, "Y:1")), protein)
    with pytest.raises(ValueError, match="not CHAIN:NUMBER"):
        ResiduePocket(("45",))
    with pytest.raises(ValueError, match="margin"):
        LigandPocket(ligand_pos=((0.0, 0.0, 0.0),), margin=-1.0)


@pytest.mark.parametrize("margin", [float("nan"), float("inf"), -0.5])
def test_margin_must_be_finite_and_non_negative(margin):
    for make in (lambda: ResiduePocket(("A:1",), margin=margin), lambda: BlindPocket(margin=margin),
                 lambda: LigandPocket(ligand_pos=((0.0, 0.0, 0.0),), margin=margin)):
        with pytest.raises(ValueError, match=r"pocket margin: must be a finite number >= 0 Å, got"):
            make()
