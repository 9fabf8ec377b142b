"""The pocket finder on closed-form geometries and a bundled protein: a cavity is found at its centre,
a flat sheet has no pocket, a rigid motion moves the pockets with the protein, bad settings are errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciffusion.domains.docking.pocket_finder import PocketFinderConfig, find_pockets, sphere_directions
from sciffusion.domains.docking.protein import read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def _cup(radius: float = 8.0, opening: float = 0.6, centre=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Atoms every ~1.4 Å on a sphere of ``radius`` Å with a cap of half-angle ``opening`` rad removed."""
    dirs = sphere_directions(int(4 * np.pi * radius**2 / 1.4**2))
    keep = np.arccos(np.clip(dirs[:, 2], -1, 1)) > opening
    return dirs[keep] * radius + np.asarray(centre)


def test_cavity_found_at_its_centre_and_moves_with_the_protein():
    atoms = _cup()
    (best, *_) = find_pockets(atoms)
    assert np.linalg.norm(np.asarray(best.box.center)) < 2.0 and best.buriedness >= 0.8
    assert best.box.contains(np.zeros((1, 3)))[0]
    shift = np.array([10.0, -4.0, 2.5])
    (moved, *_) = find_pockets(atoms + shift)
    assert np.linalg.norm(np.asarray(moved.box.center) - shift) < 2.0


def test_flat_sheet_has_no_pocket_and_two_cavities_rank_by_size():
    x, y = np.meshgrid(np.arange(-15, 15, 1.4), np.arange(-15, 15, 1.4))
    sheet = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    assert find_pockets(sheet) == []
    two = np.concatenate([_cup(8.0, centre=(0, 0, 0)), _cup(6.0, centre=(30, 0, 0))])
    pockets = find_pockets(two, count=5)
    assert len(pockets) >= 2 and pockets[0].score > pockets[1].score
    assert np.linalg.norm(np.asarray(pockets[0].box.center)) < 2.0  # the larger cavity first
    assert np.linalg.norm(np.asarray(pockets[1].box.center) - [30, 0, 0]) < 2.0


def test_bundled_protein_pocket_holds_its_ligand():
    from sciffusion.domains.docking.ligand_io import read_ligand

    protein = read_protein(DATA / "6YQW_82I_protein.pdb.gz")
    ligand = read_ligand(DATA / "6YQW_82I_ligand.sdf").mol.GetConformer().GetPositions()
    pockets = find_pockets(protein.atom_pos, count=3)
    assert 1 <= len(pockets) <= 3
    assert min(np.linalg.norm(np.asarray(p.box.center) - ligand.mean(0)) for p in pockets) < 6.0


@pytest.mark.parametrize("kwargs, message", [({"spacing": 0.0}, "spacing: must be a finite number > 0"),
                                             ({"clearance": 5.0, "shell": 4.0}, "shell: must be >= clearance"),
                                             ({"min_buriedness": 1.5}, "min_buriedness: must be in"),
                                             ({"directions": 3}, "directions: must be >= 6")])
def test_bad_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PocketFinderConfig(**kwargs)
    with pytest.raises(ValueError, match="need \\[A, 3\\]"):
        find_pockets(np.zeros((0, 3)))
