"""What ``sciffusion dock`` writes per ligand and per run.

Per ligand, ``OUT/<name>/``: ``rank1.sdf`` ... ``rank<k>.sdf`` (the ``docking evaluate`` layout,
:func:`pose_io.write_ranked_poses`; hydrogens added with coordinates, SD tag ``confidence``),
``poses.sdf`` (every sample, best first, with hydrogens and SD properties ``ligand``, ``rank``,
``confidence`` and the generator's own per-pose values) and ``rank1.png`` (2D depiction with the
residues the rank-1 pose touches within 4 Å). Per run: ``summary.csv``, ``timing.csv``, ``config.json``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

SUMMARY_COLUMNS = ("name", "smiles", "status", "reason", "n_poses", "top_confidence", "seconds", "input_record",
                   "rank1_contacts")


@dataclass(frozen=True)
class LigandResult:
    """One row of ``summary.csv``: ``status`` ``ok`` or ``failed`` (then ``reason``), ``n_poses`` samples,
    ``top_confidence`` of the rank-1 pose, ``seconds`` spent on this ligand (its preparation and writing
    plus its share of its batch's pose generation), ``input_record`` (1-based position in the input),
    ``rank1_contacts`` (residues within 4 Å of the rank-1 pose, space-separated)."""

    name: str
    smiles: str
    status: str
    reason: str = ""
    n_poses: int = 0
    top_confidence: float | None = None
    seconds: float = 0.0
    input_record: int = 0
    rank1_contacts: str = ""

    def row(self) -> list:
        confidence = "" if self.top_confidence is None else f"{self.top_confidence:.4f}"
        return [self.name, self.smiles, self.status, self.reason, self.n_poses, confidence,
                f"{self.seconds:.3f}", self.input_record, self.rank1_contacts]


def summary_csv_text(results: list[LigandResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerows(result.row() for result in results)
    return buf.getvalue()


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.4f}"


def poses_sdf_text(ligand, poses) -> str:
    """SDF text of every pose of ``poses`` (a ranked ``PoseSet``), hydrogens added with coordinates."""
    from rdkit import Chem

    from sciffusion.domains.docking.conformers import add_hydrogens, with_positions

    buf = io.StringIO()
    with Chem.SDWriter(buf) as writer:
        for k in range(poses.pos.shape[0]):
            pose = add_hydrogens(with_positions(ligand.mol, poses.pos[k]))
            pose.SetProp("_Name", f"{ligand.name}_rank{k + 1}")
            pose.SetProp("ligand", ligand.name)
            pose.SetProp("rank", str(k + 1))
            pose.SetProp("confidence", f"{float(poses.confidence[k]):.4f}")
            pose.SetProp("start_conformer", str(int(poses.conformers()[k])))
            for key, values in poses.properties.items():
                pose.SetProp(key, _format(values[k]))
            writer.write(pose)
    return buf.getvalue()


def write_ligand_outputs(folder: Path, ligand, poses, protein, top_k: int) -> list:
    """Write ``folder`` (rank files, ``poses.sdf``, ``rank1.png``) for ranked ``poses``; returns the
    rank-1 pose's :class:`depiction.ResidueContact` list."""
    from sciffusion.domains.docking.depiction import contact_figure_png, pocket_contacts
    from sciffusion.domains.docking.pose_io import write_ranked_poses

    top = poses.pos[:top_k]
    write_ranked_poses(folder, ligand.mol, [p.cpu().numpy() for p in top],
                       scores=[float(c) for c in poses.confidence[:top_k]], add_hs=True, score_name="confidence",
                       name_prefix=f"{ligand.name}_", extra_files={"poses.sdf": poses_sdf_text(ligand, poses)})
    contacts = pocket_contacts(protein, poses.pos[0].cpu().numpy())
    png = contact_figure_png(ligand.mol, contacts,
                             title=f"{ligand.name}: rank 1, confidence {float(poses.confidence[0]):.2f}")
    (folder / "rank1.png").write_bytes(png)
    return contacts
