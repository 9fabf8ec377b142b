"""A docked pose in 2D: the ligand drawn by RDKit with its contacting atoms highlighted, and the pocket
residues the pose touches listed beside it (offline: RDKit's Cairo drawer and matplotlib's Agg canvas,
no global backend change, no network)."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from sciffusion.domains.docking.protein import Protein

CONTACT_CUTOFF = 4.0
"""Å: a residue is in contact when one of its atoms lies within this distance of a ligand heavy atom."""


@dataclass(frozen=True)
class ResidueContact:
    """One receptor residue near the pose: ``chain``, ``number`` (seqnum + insertion code), ``name``
    (e.g. HIS), ``distance`` (closest atom pair, Å) and ``ligand_atoms`` (ligand heavy-atom indices
    within the cutoff of it)."""

    chain: str
    number: str
    name: str
    distance: float
    ligand_atoms: tuple[int, ...]

    @property
    def label(self) -> str:
        """``A:HIS45``."""
        return f"{self.chain}:{self.name}{self.number}"


def pocket_contacts(protein: Protein, pos, cutoff: float = CONTACT_CUTOFF) -> list[ResidueContact]:
    """Residues with an atom within ``cutoff`` Å of any of the ligand heavy atoms ``pos`` [N, 3] (Å),
    closest first (ties by chain and number)."""
    if not cutoff > 0:
        raise ValueError(f"contact cutoff: must be > 0 Å, got {cutoff}")
    pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3)
    atoms = np.asarray(protein.atom_pos, dtype=np.float64)
    if len(pos) == 0 or len(atoms) == 0:
        return []
    near = np.all((atoms >= pos.min(0) - cutoff) & (atoms <= pos.max(0) + cutoff), axis=1)
    idx = np.nonzero(near)[0]
    dist = np.linalg.norm(atoms[idx, None, :] - pos[None, :, :], axis=-1)  # [A', N]
    out = []
    residues = protein.atom_residue[idx]
    for res in np.unique(residues):
        block = dist[residues == res]
        if block.min() <= cutoff:
            lig = tuple(int(i) for i in np.nonzero((block <= cutoff).any(axis=0))[0])
            out.append(ResidueContact(str(protein.residue_chain[res]), str(protein.residue_number[res]),
                                      str(protein.residue_name[res]), float(block.min()), lig))
    return sorted(out, key=lambda c: (round(c.distance, 3), c.chain, c.number))


def ligand_png(mol, highlight: tuple[int, ...] = (), size: tuple[int, int] = (520, 440)) -> bytes:
    """PNG bytes of the 2D depiction of heavy-atom ``mol`` (fresh 2D coordinates, stereo shown from the
    Mol's tags), atoms in ``highlight`` marked."""
    from rdkit import Chem
    from rdkit.Chem import rdDepictor
    from rdkit.Chem.Draw import rdMolDraw2D

    flat = Chem.RemoveHs(Chem.Mol(mol))
    flat.RemoveAllConformers()
    rdDepictor.Compute2DCoords(flat)
    drawer = rdMolDraw2D.MolDraw2DCairo(*size)
    drawer.drawOptions().addStereoAnnotation = True
    atoms = [i for i in highlight if i < flat.GetNumAtoms()]
    colours = {i: (0.55, 0.8, 1.0) for i in atoms}
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, flat, highlightAtoms=atoms, highlightAtomColors=colours)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def contact_figure_png(mol, contacts: list[ResidueContact], title: str = "",
                       cutoff: float = CONTACT_CUTOFF, max_listed: int = 30) -> bytes:
    """PNG bytes: the ligand (contacting atoms highlighted) on the left, the contacted residues with
    their closest distance (Å) on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    highlight = tuple(sorted({i for c in contacts for i in c.ligand_atoms}))
    image = np.asarray(Image.open(io.BytesIO(ligand_png(mol, highlight))))
    fig = Figure(figsize=(9.0, 4.6), dpi=100)
    FigureCanvasAgg(fig)
    left = fig.add_axes((0.0, 0.0, 0.62, 0.92))
    left.imshow(image)
    left.set_axis_off()
    right = fig.add_axes((0.64, 0.0, 0.36, 0.92))
    right.set_axis_off()
    heading = f"pocket residues within {cutoff:g} Å ({len(contacts)})"
    lines = [f"{c.label:<12} {c.distance:4.1f} Å" for c in contacts[:max_listed]]
    if len(contacts) > max_listed:
        lines.append(f"... {len(contacts) - max_listed} more")
    if not contacts:
        lines = ["none (pose outside the pocket?)"]
    right.text(0.0, 1.0, heading, va="top", ha="left", fontsize=10, weight="bold", transform=right.transAxes)
    right.text(0.0, 0.93, "\n".join(lines), va="top", ha="left", fontsize=9, family="monospace",
               transform=right.transAxes)
    if title:
        fig.suptitle(title, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
