"""X-Score atom types as AutoDock Vina uses them (Trott & Olson 2010, J Comput Chem 31:455, Table 1;
AutoDock-Vina 1.2 ``src/lib/atom_constants.h`` and ``model::assign_types``), for heavy atoms only.

Types are integers in Vina's order (:data:`XS_NAMES`); :data:`IGNORED` (−1) marks atoms that take no
part (hydrogens, waters, elements Vina has no type for, e.g. B or Se): they score zero.

Vina's rules (``model::assign_types``):

- C: ``C_P`` when bonded to a heteroatom (anything but C and H, metals included), else ``C_H``
  (hydrophobic).
- N, O: donor when bonded to a polar hydrogen; acceptor when the AutoDock type is NA or OA. Every O
  is OA. N is NA unless Meeko's default AD4 typing (``meeko/data/params/ad4_types.json``) makes it a
  plain N: 3-connected trivalent N on an aromatic atom (pyrrole, aniline), on a 3-connected sp2
  carbon (amide-like), on an N=* (triazene), or a positively charged N (ammonium, pyridinium).
  So ``N_DA``/``N_A``/``N_D``/``N_P`` and ``O_DA``/``O_A``/``O_D`` (``O_P`` cannot occur).
- S → ``S_P``, P → ``P_P`` (neither donor, acceptor nor hydrophobic: X-Score ignores SA).
- F, Cl, Br, I → ``F_H``, ``Cl_H``, ``Br_H``, ``I_H`` (hydrophobic).
- Metals (AD4 Mg, Mn, Zn, Ca, Fe; Vina's extra Cu, Fe, Na, K, Hg, Co, U, Cd, Ni) → ``Met_D``, a donor.

Van der Waals radii (Å), ``xs_vdw_radii``: C 1.9, N 1.8, O 1.7, S 2.0, P 2.1, F 1.5, Cl 1.8,
Br 2.0, I 2.2, Si 2.2, At 2.3, Met 1.2.

Receptor atoms have no hydrogens here, so donors, acceptors and polar carbons come from residue
templates (:data:`RESIDUE_TEMPLATES`, the 20 standard amino acids + backbone, as an ideally
protonated protein at pH 7.4 with OpenBabel's conventions); histidine ring N are ``N_DA`` (either
tautomer), the C-terminal OXT an acceptor. Atoms not in a template (other residues, cofactors,
modified residues' extra atoms) are typed by element with a conservative rule: C polar when a
heteroatom lies within bonding distance (1.1 × sum of Vina's covalent radii), O an acceptor only,
N an acceptor when it has at most two heavy neighbours (else ``N_P``); none of them a donor, as
their hydrogens are unknown. Waters are ignored.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

XS_NAMES: tuple[str, ...] = ("C_H", "C_P", "N_P", "N_D", "N_A", "N_DA", "O_P", "O_D", "O_A", "O_DA",
                             "S_P", "P_P", "F_H", "Cl_H", "Br_H", "I_H", "Si", "At", "Met_D")
XS = {name: i for i, name in enumerate(XS_NAMES)}
IGNORED = -1
NUM_TYPES = len(XS_NAMES)
XS_RADIUS = torch.tensor([1.9, 1.9, 1.8, 1.8, 1.8, 1.8, 1.7, 1.7, 1.7, 1.7, 2.0, 2.1, 1.5, 1.8, 2.0, 2.2,
                          2.2, 2.3, 1.2], dtype=torch.float64)
"""Å, ``xs_vdw_radii`` in Vina's ``atom_constants.h`` (type order of :data:`XS_NAMES`)."""
HYDROPHOBIC = torch.tensor([n in ("C_H", "F_H", "Cl_H", "Br_H", "I_H") for n in XS_NAMES])
DONOR = torch.tensor([n in ("N_D", "N_DA", "O_D", "O_DA", "Met_D") for n in XS_NAMES])
ACCEPTOR = torch.tensor([n in ("N_A", "N_DA", "O_A", "O_DA") for n in XS_NAMES])
METALS = frozenset({"MG", "MN", "ZN", "CA", "FE", "CU", "NA", "K", "HG", "CO", "U", "CD", "NI"})
HALOGENS = {"F": "F_H", "CL": "Cl_H", "BR": "Br_H", "I": "I_H"}
COVALENT_RADIUS = {"C": 0.77, "N": 0.75, "O": 0.73, "S": 1.02, "P": 1.06, "F": 0.71, "CL": 0.99,
                   "BR": 1.14, "I": 1.33, "SI": 1.11, "SE": 1.16}
"""Å, Vina's ``covalent_radius`` (metals: ``metal_covalent_radius`` 1.75)."""
WATERS = frozenset({"HOH", "WAT", "DOD", "H2O"})

_BACKBONE = {"N": "N_D", "CA": "C_P", "C": "C_P", "O": "O_A", "OXT": "O_A"}
_SIDE_CHAINS: dict[str, dict[str, str]] = {
    "ALA": {"CB": "C_H"},
    "ARG": {"CB": "C_H", "CG": "C_H", "CD": "C_P", "NE": "N_D", "CZ": "C_P", "NH1": "N_D", "NH2": "N_D"},
    "ASN": {"CB": "C_H", "CG": "C_P", "OD1": "O_A", "ND2": "N_D"},
    "ASP": {"CB": "C_H", "CG": "C_P", "OD1": "O_A", "OD2": "O_A"},
    "CYS": {"CB": "C_P", "SG": "S_P"},
    "GLN": {"CB": "C_H", "CG": "C_H", "CD": "C_P", "OE1": "O_A", "NE2": "N_D"},
    "GLU": {"CB": "C_H", "CG": "C_H", "CD": "C_P", "OE1": "O_A", "OE2": "O_A"},
    "GLY": {},
    "HIS": {"CB": "C_H", "CG": "C_P", "ND1": "N_DA", "CD2": "C_P", "CE1": "C_P", "NE2": "N_DA"},
    "ILE": {"CB": "C_H", "CG1": "C_H", "CG2": "C_H", "CD1": "C_H"},
    "LEU": {"CB": "C_H", "CG": "C_H", "CD1": "C_H", "CD2": "C_H"},
    "LYS": {"CB": "C_H", "CG": "C_H", "CD": "C_H", "CE": "C_P", "NZ": "N_D"},
    "MET": {"CB": "C_H", "CG": "C_P", "SD": "S_P", "CE": "C_P"},
    "PHE": {"CB": "C_H", "CG": "C_H", "CD1": "C_H", "CD2": "C_H", "CE1": "C_H", "CE2": "C_H", "CZ": "C_H"},
    "PRO": {"N": "N_P", "CB": "C_H", "CG": "C_H", "CD": "C_P"},
    "SER": {"CB": "C_P", "OG": "O_DA"},
    "THR": {"CB": "C_P", "OG1": "O_DA", "CG2": "C_H"},
    "TRP": {"CB": "C_H", "CG": "C_H", "CD1": "C_P", "CD2": "C_H", "NE1": "N_D", "CE2": "C_P", "CE3": "C_H",
            "CZ2": "C_H", "CZ3": "C_H", "CH2": "C_H"},
    "TYR": {"CB": "C_H", "CG": "C_H", "CD1": "C_H", "CD2": "C_H", "CE1": "C_H", "CE2": "C_H", "CZ": "C_P",
            "OH": "O_DA"},
    "VAL": {"CB": "C_H", "CG1": "C_H", "CG2": "C_H"},
}
RESIDUE_TEMPLATES: dict[str, dict[str, str]] = {res: {**_BACKBONE, **side} for res, side in _SIDE_CHAINS.items()}
"""Residue name → {atom name → XS type name}: backbone N (Pro: ``N_P``), CA, C, O, OXT plus side chain."""

_MEEKO_PLAIN_N = ("[#7X3v3][a]", "[#7X3v3][#6X3v4]", "[#7X3v3][NX2]=[*]", "[#7+1]")


def ligand_types(mol) -> Tensor:
    """XS type of every atom of an RDKit Mol, [N] int64 (hydrogens and untyped elements: −1).

    Hydrogen counts come from the molecule (implicit or explicit H), so a heavy-atom Mol works.
    """
    from rdkit import Chem

    plain_n: set[int] = set()
    for smarts in _MEEKO_PLAIN_N:
        plain_n |= {m[0] for m in mol.GetSubstructMatches(Chem.MolFromSmarts(smarts))}
    out = []
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol().upper()
        has_h = atom.GetTotalNumHs(includeNeighbors=True) > 0
        if symbol == "C":
            hetero = any(n.GetSymbol().upper() not in ("C", "H") for n in atom.GetNeighbors())
            out.append(XS["C_P" if hetero else "C_H"])
        elif symbol in ("N", "O"):
            acceptor = symbol == "O" or atom.GetIdx() not in plain_n
            out.append(XS[symbol + "_" + ("DA" if acceptor and has_h else "A" if acceptor else "D" if has_h else "P")])
        else:
            out.append(_element_type(symbol))
    return torch.tensor(out, dtype=torch.long)


def _element_type(symbol: str) -> int:
    """Type of S, P, halogens, Si, At and metals by element alone; −1 for anything else."""
    if symbol in HALOGENS:
        return XS[HALOGENS[symbol]]
    if symbol in METALS:
        return XS["Met_D"]
    return {"S": XS["S_P"], "P": XS["P_P"], "SI": XS["Si"], "AT": XS["At"]}.get(symbol, IGNORED)


def receptor_types(protein) -> Tensor:
    """XS type of every atom of a :class:`protein.Protein`, [A] int64 (rules in the module docstring)."""
    elements = np.asarray(protein.atom_element)
    residue_names = np.asarray(protein.residue_name)[protein.atom_residue]
    out = np.full(protein.num_atoms, IGNORED, dtype=np.int64)
    untyped = []
    excluded = np.isin(residue_names, list(WATERS)) | np.isin(elements, ["H", "D"])
    for a, (name, residue) in enumerate(zip(protein.atom_name, residue_names)):
        if excluded[a]:
            continue
        named = RESIDUE_TEMPLATES.get(str(residue), {}).get(str(name))
        if named is not None:
            out[a] = XS[named]
        else:
            untyped.append(a)
    if untyped:
        out[untyped] = _types_by_element(np.asarray(protein.atom_pos, dtype=np.float64), elements, ~excluded, untyped)
    return torch.from_numpy(out)


def _types_by_element(pos: np.ndarray, elements: np.ndarray, candidates: np.ndarray, atoms: list[int]) -> np.ndarray:
    """Conservative types of ``atoms`` (outside the templates), with bonds to the ``candidates`` [A]
    bool (heavy, non-water atoms) guessed from distances."""
    from scipy.spatial import cKDTree

    heavy = np.nonzero(candidates)[0]
    tree = cKDTree(pos[heavy])
    radius = np.array([COVALENT_RADIUS.get(str(e), 1.75 if e in METALS else 0.77) for e in elements])
    result = []
    for a in atoms:
        element = str(elements[a])
        near = heavy[tree.query_ball_point(pos[a], r=2 * 1.1 * 1.75)]
        near = near[near != a]
        bonded = near[np.linalg.norm(pos[near] - pos[a], axis=1) < 1.1 * (radius[a] + radius[near])]
        if element == "C":
            result.append(XS["C_P" if any(elements[b] not in ("C", "H", "D") for b in bonded) else "C_H"])
        elif element == "O":
            result.append(XS["O_A"])
        elif element == "N":
            result.append(XS["N_A" if len(bonded) <= 2 else "N_P"])
        else:
            result.append(_element_type(element))
    return np.asarray(result, dtype=np.int64)
