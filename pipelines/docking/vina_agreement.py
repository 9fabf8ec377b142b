"""Agreement of our Vina-like score (:mod:`sciffusion.domains.docking.vina_score`) with AutoDock Vina.

Per complex of an INDEX.csv: the crystal ligand pose (pose 0) and ``perturbations`` seeded perturbed
poses (rigid shift of 0.5–3 Å in a uniform direction, rotation about the centroid by an angle
uniform in [0, 45°] about a uniform axis, every torsion changed by U(−60°, 60°); through
:func:`poses_from_changes`, so bond geometry is the crystal's). One box for both programs: the
bounding box of all the complex's poses plus ``pocket_margin`` Å.

Vina 1.2 (``score_only`` semantics: ``Vina.score()``): receptor without waters through OpenBabel
as in :mod:`.vina_baseline` (pH 7.4, polar hydrogens), each pose's heavy atoms + RDKit hydrogens
through Meeko, maps over the box. Ours: receptor read with :func:`read_protein` (waters dropped),
template typing, grids over the box (the production path) and direct pair sums (per term).

Writes ``OUT/poses.csv`` (one row per pose), ``OUT/report.json`` (Pearson r and mean absolute
difference, kcal/mol, of the normalised total, the intermolecular and the intramolecular energies;
over all poses, the crystal poses, the perturbed ones and those Vina scores < 0 (the clashing
perturbed poses, tens of kcal/mol, would otherwise dominate r); grid vs direct), ``OUT/scatter.png`` and ``OUT/config.json``, all at once (the folder appears
complete or not at all). Complexes that fail are listed in the report.
"""
from __future__ import annotations

import csv
import io
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from sciffusion.common.io.atomic import atomic_path, refuse_existing

SHIFT_RANGE = (0.5, 3.0)
"""Å: rigid shift length of a perturbed pose."""
MAX_ROTATION = math.pi / 4
"""radians: largest rotation of a perturbed pose about its centroid."""
MAX_TORSION = math.pi / 3
"""radians: largest torsion change of a perturbed pose."""


@dataclass(frozen=True)
class VinaAgreementConfig:
    """``index`` INDEX.csv, ``out`` folder (must not exist unless ``overwrite``), first ``limit`` rows,
    ``perturbations`` perturbed poses per complex, ``seed``, box margin (Å), grid spacing (Å)."""

    index: Path
    out: Path
    limit: int | None = None
    perturbations: int = 4
    seed: int = 0
    pocket_margin: float = 4.0
    spacing: float = 0.375
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit: must be >= 1, got {self.limit}")
        if not 0 <= self.perturbations <= 100:
            raise ValueError(f"--perturbations: must be in 0..100, got {self.perturbations}")
        if not (math.isfinite(self.pocket_margin) and self.pocket_margin >= 0):
            raise ValueError(f"--pocket-margin: must be a finite number >= 0 Å, got {self.pocket_margin}")
        if not (math.isfinite(self.spacing) and 0.1 <= self.spacing <= 1.0):
            raise ValueError(f"--spacing: must be in [0.1, 1] Å, got {self.spacing}")


def perturbed_poses(ligand, count: int, generator: torch.Generator) -> dict:
    """Crystal pose + ``count`` perturbed poses of ``ligand`` (conformer 0 = the crystal pose):
    {pos [count + 1, N, 3] Å, shift [count + 1] Å, rotation [count + 1] radians}."""
    from sciffusion.domains.docking.pose_generators import poses_from_changes

    k, m = count + 1, int(ligand.tensors["rot_edges"].shape[0])
    direction = torch.randn(k, 3, generator=generator, dtype=torch.float64)
    shift = SHIFT_RANGE[0] + (SHIFT_RANGE[1] - SHIFT_RANGE[0]) * torch.rand(k, generator=generator, dtype=torch.float64)
    axis = torch.randn(k, 3, generator=generator, dtype=torch.float64)
    angle = MAX_ROTATION * torch.rand(k, generator=generator, dtype=torch.float64)
    delta = MAX_TORSION * (2 * torch.rand(k, m, generator=generator, dtype=torch.float64) - 1)
    shift[0], angle[0], delta[0] = 0.0, 0.0, 0.0
    translation = direction / direction.norm(dim=1, keepdim=True) * shift[:, None]
    rotvec = axis / axis.norm(dim=1, keepdim=True) * angle[:, None]
    return {"pos": poses_from_changes(ligand, translation, rotvec, delta), "shift": shift, "rotation": angle}


def _vina_receptor(protein_path: Path, work: Path, seed: int):
    """Vina object with the receptor (waters removed, OpenBabel PDBQT as in :mod:`.vina_baseline`)."""
    import gemmi

    from sciffusion.pipelines.docking.vina_baseline import _vina_with_receptor, receptor_pdbqt

    structure = gemmi.read_structure(str(protein_path))
    structure.remove_waters()
    structure.remove_hydrogens()
    filtered = work / "filtered.pdb"
    structure.write_pdb(str(filtered))
    vina, dropped = _vina_with_receptor(receptor_pdbqt(filtered, work), cpu=1, seed=seed)
    return vina, dropped


def _pose_pdbqt(mol, pos: np.ndarray) -> str:
    """Meeko PDBQT of heavy-atom ``mol`` at ``pos`` [N, 3] Å with RDKit-placed hydrogens."""
    from meeko import MoleculePreparation, PDBQTWriterLegacy
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    posed = Chem.Mol(mol)
    conf = posed.GetConformer()
    for i, (x, y, z) in enumerate(pos.tolist()):
        conf.SetAtomPosition(i, Point3D(x, y, z))
    setups = MoleculePreparation().prepare(Chem.AddHs(posed, addCoords=True))
    text, ok, err = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise ValueError(f"Meeko could not write the ligand PDBQT: {err.strip()[:200]}")
    return text


def score_complex(entry, cfg: VinaAgreementConfig, generator: torch.Generator) -> list[dict]:
    """Rows (one per pose) with Vina's and our energies for one index entry."""
    from sciffusion.domains.docking.conformers import strip_hydrogens
    from sciffusion.domains.docking.ligand_io import read_ligand
    from sciffusion.domains.docking.pockets import Box
    from sciffusion.domains.docking.pose_generators import PreparedLigand
    from sciffusion.domains.docking.protein import read_protein
    from sciffusion.domains.docking.vina_grid import VinaGrid
    from sciffusion.domains.docking.vina_score import (TERMS, WEIGHTS, inter_terms_direct, intra_terms,
                                                       intramolecular_pairs, vina_rotor_count, vina_score)
    from sciffusion.domains.docking.vina_types import ligand_types, receptor_types

    mol = strip_hydrogens(read_ligand(entry.ligand).mol)
    ligand = PreparedLigand.from_mol(entry.id, mol)
    poses = perturbed_poses(ligand, cfg.perturbations, generator)
    pos = poses["pos"]
    box = Box.around(pos.reshape(-1, 3).numpy(), cfg.pocket_margin)
    protein = read_protein(entry.protein)
    lig_types, rec_types = ligand_types(mol), receptor_types(protein)
    rec_pos = torch.tensor(protein.atom_pos, dtype=torch.float64)
    pairs = intramolecular_pairs(mol, ligand.tensors["rot_mask"])
    rotors = vina_rotor_count(mol, ligand.tensors["rot_edges"])
    grid = VinaGrid.build(rec_pos, rec_types, box.center, box.size, cfg.spacing, types=lig_types)
    ours = vina_score(pos, lig_types, pairs, rotors, grid=grid)
    direct_terms = inter_terms_direct(pos, lig_types, rec_pos, rec_types)
    intra = intra_terms(pos, lig_types, pairs)
    with tempfile.TemporaryDirectory() as tmp:
        vina, dropped = _vina_receptor(entry.protein, Path(tmp), cfg.seed)
        vina_energies = []
        for k in range(pos.shape[0]):
            vina.set_ligand_from_string(_pose_pdbqt(mol, pos[k].numpy()))
            if k == 0:
                vina.compute_vina_maps(center=list(box.center), box_size=list(box.size))
            vina_energies.append([float(v) for v in vina.score()])
    rows = []
    for k, energies in enumerate(vina_energies):
        row = {"id": entry.id, "pose": k, "shift_A": round(float(poses["shift"][k]), 3),
               "rotation_deg": round(math.degrees(float(poses["rotation"][k])), 2),
               "rmsd_A": round(float(((pos[k] - pos[0]) ** 2).sum(-1).mean().sqrt()), 3),
               "vina_total": energies[0], "vina_inter": energies[1], "vina_intra": energies[5],
               "ours_total": float(ours["total_normalised"][k]), "ours_inter_grid": float(ours["inter"][k]),
               "ours_inter_direct": float(direct_terms[k] @ WEIGHTS), "ours_intra": float(ours["intra"][k]),
               "ours_rotors": rotors,
               "vina_rotors": (energies[1] / energies[0] - 1) / 0.05846 if energies[0] else float("nan"),
               "receptor_dropped_types": ";".join(dropped)}
        row.update({f"ours_{name}": float(direct_terms[k, i]) for i, name in enumerate(TERMS)})
        row.update({f"ours_intra_{name}": float(intra[k, i]) for i, name in enumerate(TERMS)})
        rows.append(row)
    return rows


def agreement(x: list[float], y: list[float]) -> dict:
    """Pearson r, mean absolute difference and count of paired values (kcal/mol)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    r = float(np.corrcoef(a, b)[0, 1]) if len(a) > 1 and a.std() > 0 and b.std() > 0 else None
    return {"pearson_r": r, "mae_kcal_mol": float(np.abs(a - b).mean()) if len(a) else None, "n": int(len(a))}


def _report(rows: list[dict], failures: list[tuple[str, str]], seconds: float) -> dict:
    col = lambda name: [r[name] for r in rows]  # noqa: E731
    perturbed = [r for r in rows if r["pose"] > 0]
    return {
        "complexes": len({r["id"] for r in rows}), "poses": len(rows), "failed": [list(f) for f in failures],
        "total_normalised": agreement(col("vina_total"), col("ours_total")),
        "inter": agreement(col("vina_inter"), col("ours_inter_grid")),
        "inter_direct": agreement(col("vina_inter"), col("ours_inter_direct")),
        "intra": agreement(col("vina_intra"), col("ours_intra")),
        "crystal_only_total": agreement([r["vina_total"] for r in rows if r["pose"] == 0],
                                        [r["ours_total"] for r in rows if r["pose"] == 0]),
        "perturbed_only_total": agreement([r["vina_total"] for r in perturbed], [r["ours_total"] for r in perturbed]),
        "favourable_only_total": agreement([r["vina_total"] for r in rows if r["vina_total"] < 0],
                                           [r["ours_total"] for r in rows if r["vina_total"] < 0]),
        "grid_vs_direct_inter": agreement(col("ours_inter_direct"), col("ours_inter_grid")),
        "rotors_mismatch_complexes": sorted({r["id"] for r in rows if abs(r["vina_rotors"] - r["ours_rotors"]) > 0.01}),
        "seconds": round(seconds, 1),
    }


def _scatter_png(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, (ours, vina, title) in zip(axes, (("ours_total", "vina_total", "normalised total"),
                                              ("ours_inter_grid", "vina_inter", "intermolecular"))):
        x = np.array([r[vina] for r in rows])
        y = np.array([r[ours] for r in rows])
        crystal = np.array([r["pose"] == 0 for r in rows])
        ax.scatter(x[~crystal], y[~crystal], s=10, alpha=0.6, label="perturbed")
        ax.scatter(x[crystal], y[crystal], s=14, c="k", label="crystal")
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], "r--", lw=1)
        stats = agreement(list(x), list(y))
        r = "n/a" if stats["pearson_r"] is None else f"{stats['pearson_r']:.3f}"
        ax.set(xlabel=f"Vina {title} (kcal/mol)", ylabel=f"ours {title} (kcal/mol)",
               title=f"{title}: r = {r}, MAE = {stats['mae_kcal_mol']:.2f}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def run_vina_agreement(cfg: VinaAgreementConfig) -> dict:
    """Score every (first ``limit``) index entry with Vina and ours; write the outputs; return the report."""
    from sciffusion.domains.docking.index import read_index
    from sciffusion.pipelines.docking.vina_baseline import check_vina_installed

    refuse_existing(cfg.out, cfg.overwrite)
    check_vina_installed()
    entries = read_index(cfg.index)[: cfg.limit]
    if not entries:
        raise ValueError(f"{cfg.index}: no complexes in the index")
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(cfg.seed)
    rows, failures = [], []
    for entry in entries:
        try:
            rows += score_complex(entry, cfg, generator)
        except Exception as exc:  # one bad complex must not stop the run; listed in report.json
            failures.append((entry.id, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))
    if not rows:
        raise ValueError(f"{cfg.index}: every complex failed ({failures[0][1]})")
    report = _report(rows, failures, time.perf_counter() - start)
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        (tmp / "poses.csv").write_text(_csv_text(rows))
        (tmp / "report.json").write_text(json.dumps(report, indent=1))
        (tmp / "config.json").write_text(json.dumps({k: str(v) if isinstance(v, Path) else v
                                                     for k, v in asdict(cfg).items()}, indent=1))
        _scatter_png(rows, tmp / "scatter.png")
    return report
