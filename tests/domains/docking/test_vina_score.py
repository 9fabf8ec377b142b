from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from sciffusion.common.manifolds.so3 import random_rotation
from sciffusion.domains.docking.conformers import embed_conformer, strip_hydrogens
from sciffusion.domains.docking.graphs import ligand_tensors
from sciffusion.domains.docking.ligand_io import read_ligand, smiles_record
from sciffusion.domains.docking.pockets import Box
from sciffusion.domains.docking.protein import read_protein
from sciffusion.domains.docking.vina_grid import VinaGrid
from sciffusion.domains.docking.vina_score import (WEIGHTS, inter_energy_direct, intramolecular, intramolecular_pairs,
                                                   pair_energy, pair_terms, vina_rotor_count, vina_score)
from sciffusion.domains.docking.vina_types import XS, XS_NAMES, ligand_types, receptor_types

DATA = Path(__file__).parents[3] / "domains" / "docking" / "data"


@lru_cache(maxsize=None)
def complex_parts(cid: str):
    protein = read_protein(DATA / f"{cid}_pocket.pdb.gz")
    mol = strip_hydrogens(read_ligand(DATA / f"{cid}_ligand.sdf").mol)
    return protein, mol, torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)


def one(value) -> torch.Tensor:
    return torch.tensor([value], dtype=torch.float64)


def types_of(*names) -> torch.Tensor:
    return torch.tensor([XS[n] for n in names])


def test_terms_closed_form_at_chosen_surface_distances():
    # C_H (1.9 Å) + O_A (1.7 Å): optimal distance 3.6 Å; O_DA–O_A (3.4 Å) for the H-bond
    c, o = types_of("C_H"), types_of("O_A")
    t = pair_terms(one(3.6), c, o)[0]  # d = 0
    assert torch.allclose(t, torch.tensor([1.0, math.exp(-2.25), 0.0, 0.0, 0.0], dtype=torch.float64))
    t = pair_terms(one(3.1), c, types_of("C_H"))[0]  # C_H–C_H: d = 3.1 − 3.8 = −0.7
    assert torch.allclose(t, torch.tensor([math.exp(-1.96), math.exp(-((-3.7) / 2) ** 2), 0.49, 1.0, 0.0],
                                          dtype=torch.float64))
    t = pair_terms(one(4.8), c, types_of("Cl_H"))[0]  # d = 4.8 − 3.7 = 1.1: hydrophobic (1.5 − 1.1) = 0.4
    assert t[3].item() == pytest.approx(0.4)
    t = pair_terms(one(3.05), types_of("O_DA"), o)[0]  # d = −0.35: half an H-bond
    assert t[4].item() == pytest.approx(0.5)
    assert pair_terms(one(3.05), types_of("O_A"), o)[0, 4].item() == 0.0  # two acceptors: no H-bond
    assert pair_terms(one(2.0), types_of("Met_D"), o)[0, 4].item() == 1.0  # metal donor (1.2 Å): d = −0.9
    assert pair_terms(one(8.0), c, o).abs().sum().item() == 0.0  # cutoff
    assert pair_terms(one(3.0), torch.tensor([-1]), o).abs().sum().item() == 0.0  # ignored atom
    assert pair_energy(one(3.6), c, o).item() == pytest.approx(-0.035579 - 0.005156 * math.exp(-2.25))
    assert WEIGHTS.tolist() == [-0.035579, -0.005156, 0.840245, -0.035069, -0.587439]


def test_known_receptor_and_ligand_types():
    protein, _, _ = complex_parts("6XG5_TOP")
    types = receptor_types(protein)
    residues = protein.residue_name[protein.atom_residue]

    def type_of(residue, name):
        hits = np.nonzero((residues == residue) & (protein.atom_name == name))[0]
        assert len(hits), (residue, name)
        return {XS_NAMES[t] for t in types[hits].tolist()}

    assert type_of("GLY", "O") == {"O_A"}
    assert type_of("LEU", "N") == {"N_D"}
    assert type_of("SER", "OG") == {"O_DA"}
    assert type_of("PHE", "CZ") == {"C_H"}
    assert type_of("PHE", "CA") == {"C_P"}
    assert type_of("ASP", "OD1") == {"O_A"}
    mol = smiles_record("OCc1ccncc1C(=O)N").mol  # hydroxyl O, ring carbons, pyridine N, amide N
    lt = [XS_NAMES[t] for t in ligand_types(mol).tolist()]
    assert lt[0] == "O_DA" and lt[1] == "C_P" and lt[2] == "C_H" and lt[5] == "N_A" and lt[-1] == "N_D"
    assert [XS_NAMES[t] for t in ligand_types(smiles_record("CCCl").mol).tolist()] == ["C_H", "C_P", "Cl_H"]


def test_grid_matches_direct_on_bundled_complexes():
    for cid in ("6YQW_82I", "6XG5_TOP"):
        protein, mol, pos = complex_parts(cid)
        lt, rt = ligand_types(mol), receptor_types(protein)
        rec = torch.tensor(protein.atom_pos, dtype=torch.float64)
        box = Box.around(pos.numpy(), 3.0)
        grid = VinaGrid.build(rec, rt, box.center, box.size, spacing=0.5, types=lt)
        poses = pos + 0.3 * torch.randn(6, *pos.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        poses = torch.cat([pos[None], poses])
        direct = inter_energy_direct(poses, lt, rec, rt)
        assert direct[0] < -4.0  # the crystal pose binds
        assert torch.allclose(grid.energy(poses, lt), direct, atol=0.1 + 0.03 * direct.abs().max().item())


def test_gradient_of_direct_and_intramolecular_energy():
    gen = torch.Generator().manual_seed(0)
    rec = 4.0 * torch.rand(6, 3, generator=gen, dtype=torch.float64)
    rt = types_of("C_H", "O_A", "N_D", "C_P", "O_DA", "S_P")
    lt = types_of("C_H", "N_DA", "O_A", "Cl_H")
    pos = (4.0 * torch.rand(2, 4, 3, generator=gen, dtype=torch.float64) + 1.0).requires_grad_()
    pairs = torch.tensor([[0, 3], [1, 3]])
    assert torch.autograd.gradcheck(lambda p: inter_energy_direct(p, lt, rec, rt) + intramolecular(p, lt, pairs), (pos,))


def test_grid_energy_gradient_is_continuous_and_matches_finite_differences():
    protein, mol, pos = complex_parts("6YQW_82I")
    lt, rt = ligand_types(mol), receptor_types(protein)
    box = Box.around(pos.numpy(), 2.0)
    grid = VinaGrid.build(torch.tensor(protein.atom_pos, dtype=torch.float64), rt, box.center, box.size, 0.5, lt)
    x = pos[None].clone().requires_grad_()
    (g,) = torch.autograd.grad(grid.energy(x, lt).sum(), x)
    h, i = 1e-5, 3
    step = torch.zeros_like(pos)
    step[i, 0] = h
    fd = (grid.energy((pos + step)[None], lt) - grid.energy((pos - step)[None], lt)) / (2 * h)
    assert g[0, i, 0].item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-6)


def test_direct_score_is_invariant_to_moving_receptor_and_ligand_together():
    protein, mol, pos = complex_parts("6YQW_82I")
    lt, rt = ligand_types(mol), receptor_types(protein)
    rec = torch.tensor(protein.atom_pos, dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    rot = random_rotation(1, generator=gen)[0]
    shift = 10 * torch.randn(3, dtype=torch.float64, generator=gen)
    a = inter_energy_direct(pos[None], lt, rec, rt)
    b = inter_energy_direct((pos @ rot.T + shift)[None], lt, rec @ rot.T + shift, rt)
    assert torch.allclose(a, b, atol=1e-9)


def test_crystal_scores_better_than_a_clash_and_normalisation():
    protein, mol, pos = complex_parts("6XG5_TOP")
    lt, rt = ligand_types(mol), receptor_types(protein)
    rec = torch.tensor(protein.atom_pos, dtype=torch.float64)
    tensors = ligand_tensors(mol)
    pairs = intramolecular_pairs(mol, tensors["rot_mask"])
    rotors = vina_rotor_count(mol, tensors["rot_edges"])
    assert rotors == 6.0  # trimethoprim: 5 rotatable bonds + ½ per aryl NH2 (Vina 1.2 + Meeko: 6 too)
    nearest = rec[torch.cdist(pos.mean(0, keepdim=True), rec).argmin()]
    clash = pos - pos.mean(0) + nearest
    out = vina_score(torch.stack([pos, clash]), lt, pairs, rotors, receptor_pos=rec, receptor_types=rt)
    assert out["inter"][0] < -8.0 < 0 < out["inter"][1]
    assert torch.allclose(out["total_normalised"], out["inter"] / (1 + 0.05846 * 6))


def test_intramolecular_pairs_follow_vina_rules():
    mol = embed_conformer(smiles_record("CCCCCC").mol, seed=0)
    tensors = ligand_tensors(mol)  # hexane: 3 rotatable bonds, pairs more than 3 bonds apart: (0, 4), (0, 5), (1, 5)
    assert intramolecular_pairs(mol, tensors["rot_mask"]).tolist() == [[0, 4], [0, 5], [1, 5]]
    benzene = embed_conformer(smiles_record("c1ccccc1").mol, seed=0)  # one rigid fragment: no pairs
    assert intramolecular_pairs(benzene, ligand_tensors(benzene)["rot_mask"]).shape == (0, 2)


def test_bad_inputs_are_one_line_errors():
    protein, mol, pos = complex_parts("6YQW_82I")
    lt, rt = ligand_types(mol), receptor_types(protein)
    rec = torch.tensor(protein.atom_pos, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"pos must be \[K, N, 3\]"):
        inter_energy_direct(pos, lt, rec, rt)
    with pytest.raises(ValueError, match="ligand types must be"):
        inter_energy_direct(pos[None], lt[:3], rec, rt)
    with pytest.raises(ValueError, match="grid spacing: must be a number > 0"):
        VinaGrid.build(rec, rt, (0, 0, 0), (5, 5, 5), spacing=0.0)
    grid = VinaGrid.build(rec, rt, tuple(pos.mean(0).tolist()), (4, 4, 4), spacing=0.5, types=types_of("C_H"))
    with pytest.raises(ValueError, match="no grid for ligand types"):
        grid.energy(pos[None], lt)
    with pytest.raises(ValueError, match="give a grid or receptor_pos"):
        vina_score(pos[None], lt, torch.zeros(0, 2, dtype=torch.long), 1.0)
