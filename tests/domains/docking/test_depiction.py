from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rdkit import Chem

from sciffusion.domains.docking.depiction import contact_figure_png, ligand_png, pocket_contacts
from sciffusion.domains.docking.protein import Protein, read_protein

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


def _toy_protein() -> Protein:
    """Three residues: A:10 GLY with atoms at x = 0 and 1, A:11 SER at x = 5, B:3A ALA at x = 20 (Å)."""
    return Protein(path="toy.pdb", atom_pos=np.array([[0, 0, 0], [1, 0, 0], [5, 0, 0], [20, 0, 0]], dtype=np.float32),
                   atom_element=np.array(["C", "C", "O", "C"]), atom_name=np.array(["CA", "C", "OG", "CA"]),
                   atom_residue=np.array([0, 0, 1, 2]), residue_name=np.array(["GLY", "SER", "ALA"]),
                   residue_chain=np.array(["A", "A", "B"]), residue_number=np.array(["10", "11", "3A"]),
                   residue_is_amino_acid=np.array([True, True, True]))


def test_contacts_closed_form():
    # ligand atoms at x = 3 and x = 8.5: GLY's closest atom 2 Å from atom 0; SER 2 Å from atom 0 and 3.5 Å from
    # atom 1; ALA 11.5 Å away (no contact)
    contacts = pocket_contacts(_toy_protein(), np.array([[3.0, 0, 0], [8.5, 0, 0]]))
    assert [c.label for c in contacts] == ["A:GLY10", "A:SER11"]
    assert [c.distance for c in contacts] == pytest.approx([2.0, 2.0])
    assert contacts[0].ligand_atoms == (0,) and contacts[1].ligand_atoms == (0, 1)
    assert pocket_contacts(_toy_protein(), np.array([[3.0, 0, 0]]), cutoff=1.5) == []
    far = pocket_contacts(_toy_protein(), np.array([[20.0, 3.9, 0]]))
    assert [c.label for c in far] == ["B:ALA3A"]
    with pytest.raises(ValueError, match="cutoff"):
        pocket_contacts(_toy_protein(), np.zeros((1, 3)), cutoff=0)


def test_contacts_of_the_crystal_pose_match_brute_force():
    protein = read_protein(DATA / "6XG5_TOP_protein.pdb.gz")
    pos = Chem.MolFromMolFile(str(DATA / "6XG5_TOP_ligand.sdf")).GetConformer().GetPositions()
    contacts = pocket_contacts(protein, pos)
    dist = np.linalg.norm(protein.atom_pos[:, None].astype(np.float64) - pos[None], axis=-1)
    expected = {int(protein.atom_residue[i]) for i in np.nonzero(dist.min(axis=1) <= 4.0)[0]}
    labels = {f"{protein.residue_chain[r]}:{protein.residue_name[r]}{protein.residue_number[r]}" for r in expected}
    assert {c.label for c in contacts} == labels and len(labels) >= 5
    assert [c.distance for c in contacts] == sorted(c.distance for c in contacts)


def test_pictures_are_pngs_and_show_the_highlight():
    mol = Chem.MolFromSmiles("C[C@@H](O)c1ccccc1")
    plain, marked = ligand_png(mol), ligand_png(mol, highlight=(0, 1))
    assert plain[:8] == b"\x89PNG\r\n\x1a\n" and plain != marked
    contacts = pocket_contacts(_toy_protein(), np.array([[3.0, 0, 0]]))
    figure = Image.open(io.BytesIO(contact_figure_png(mol, contacts, title="toy")))
    assert figure.size == (900, 460)
    empty = Image.open(io.BytesIO(contact_figure_png(mol, [], title="toy")))
    assert np.abs(np.asarray(figure, dtype=float) - np.asarray(empty, dtype=float)).sum() > 0
