"""What ``sciffusion dock`` writes per ligand and per run.

Per ligand, ``OUT/<name>/``: ``rank1.sdf`` ... ``rank<k>.sdf`` (the ``docking evaluate`` layout,
:func:`pose_io.write_ranked_poses`; hydrogens added with coordinates, SD tag ``confidence``),
``poses.sdf`` (every sample, best first, with hydrogens and SD properties ``ligand``, ``rank``,
``confidence`` and the generator's own per-pose values) and ``rank1.png`` (2D depiction with the
residues the rank-1 pose touches within 4 Å). With ``--posebusters`` every pose in ``poses.sdf`` and the
rank files also carries ``pb_valid`` (1/0) and ``pb_failed`` (space-separated failed PoseBusters ``dock``
checks, empty when none), checked on the pose as written (heavy atoms + added hydrogens).
Per run: ``summary.csv``, ``timing.csv``, ``config.json``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

SUMMARY_COLUMNS = ("name", "smiles", "status", "reason", "n_poses", "top_confidence", "seconds", "input_record",
                   "rank1_contacts", "rank1_pb_valid")


@dataclass(frozen=True)
class LigandResult:
    """One row of ``summary.csv``: ``status`` ``ok`` or ``failed`` (then ``reason``), ``n_poses`` samples,
    ``top_confidence`` of the rank-1 pose, ``seconds`` spent on this ligand (its preparation and writing
    plus its share of its batch's pose generation), ``input_record`` (1-based position in the input),
    ``rank1_contacts`` (residues within 4 Å of the rank-1 pose, space-separated), ``rank1_pb_valid``
    (1/0: the rank-1 pose passed every PoseBusters ``dock`` check; empty without ``--posebusters``)."""

    name: str
    smiles: str
    status: str
    reason: str = ""
    n_poses: int = 0
    top_confidence: float | None = None
    seconds: float = 0.0
    input_record: int = 0
    rank1_contacts: str = ""
    rank1_pb_valid: bool | None = None

    def row(self) -> list:
        confidence = "" if self.top_confidence is None else f"{self.top_confidence:.4f}"
        pb_valid = "" if self.rank1_pb_valid is None else int(self.rank1_pb_valid)
        return [self.name, self.smiles, self.status, self.reason, self.n_poses, confidence,
                f"{self.seconds:.3f}", self.input_record, self.rank1_contacts, pb_valid]


def summary_csv_text(results: list[LigandResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerows(result.row() for result in results)
    return buf.getvalue()


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.4f}"


def output_poses(ligand, poses) -> list:
    """RDKit Mols of every pose of ``poses`` as written: heavy atoms + hydrogens added with coordinates."""
    from sciffusion.domains.docking.conformers import add_hydrogens, with_positions

    return [add_hydrogens(with_positions(ligand.mol, pos)) for pos in poses.pos]


def posebusters_tags(mols: list, protein_path: Path) -> list[dict[str, str]]:
    """``{"pb_valid": "1"/"0", "pb_failed": space-separated failed check names}`` per pose: PoseBusters
    ``dock`` checks (no true ligand) of ``mols`` as given (hydrogens included) against the protein file."""
    from sciffusion.domains.docking.pose_metrics import posebusters_checks, posebusters_protein

    checks = posebusters_checks(mols, None, posebusters_protein(protein_path), remove_hs=False)
    return [{"pb_valid": str(int(valid)), "pb_failed": " ".join(failed.split(";")) if failed else ""}
            for valid, failed in checks]


def poses_sdf_text(ligand, poses, pb_tags: list[dict[str, str]] | None = None) -> str:
    """SDF text of every pose of ``poses`` (a ranked ``PoseSet``), hydrogens added with coordinates;
    ``pb_tags``: per-pose PoseBusters SD properties (:func:`posebusters_tags`)."""
    from rdkit import Chem

    buf = io.StringIO()
    with Chem.SDWriter(buf) as writer:
        for k, pose in enumerate(output_poses(ligand, poses)):
            pose.SetProp("_Name", f"{ligand.name}_rank{k + 1}")
            pose.SetProp("ligand", ligand.name)
            pose.SetProp("rank", str(k + 1))
            pose.SetProp("confidence", f"{float(poses.confidence[k]):.4f}")
            pose.SetProp("start_conformer", str(int(poses.conformers()[k])))
            for key, values in poses.properties.items():
                pose.SetProp(key, _format(values[k]))
            for key, value in (pb_tags[k] if pb_tags else {}).items():
                pose.SetProp(key, value)
            writer.write(pose)
    return buf.getvalue()


def _add_sd_tags(path: Path, tags: dict[str, str]) -> None:
    """Append SD data items to the one record of ``path`` (text edit; the molecule block is untouched)."""
    text = path.read_text()
    items = "".join(f">  <{key}>\n{value}\n\n" for key, value in tags.items())
    path.write_text(text.replace("$$$$", items + "$$$$", 1))


def write_ligand_outputs(folder: Path, ligand, poses, protein, top_k: int, posebusters_protein: Path | None = None
                         ) -> tuple[list, list[dict[str, str]] | None]:
    """Write ``folder`` (rank files, ``poses.sdf``, ``rank1.png``) for ranked ``poses``; returns the
    rank-1 pose's :class:`depiction.ResidueContact` list and, when ``posebusters_protein`` (the protein
    file) is given, every pose's PoseBusters tags (:func:`posebusters_tags`, also written as SD
    properties), else None."""
    from sciffusion.domains.docking.depiction import contact_figure_png, pocket_contacts
    from sciffusion.domains.docking.pose_io import write_ranked_poses

    pb_tags = None
    if posebusters_protein is not None:
        pb_tags = posebusters_tags(output_poses(ligand, poses), posebusters_protein)
    top = poses.pos[:top_k]
    write_ranked_poses(folder, ligand.mol, [p.cpu().numpy() for p in top],
                       scores=[float(c) for c in poses.confidence[:top_k]], add_hs=True, score_name="confidence",
                       name_prefix=f"{ligand.name}_", extra_files={"poses.sdf": poses_sdf_text(ligand, poses, pb_tags)})
    for k, tags in enumerate((pb_tags or [])[:top_k]):
        _add_sd_tags(folder / f"rank{k + 1}.sdf", tags)
    contacts = pocket_contacts(protein, poses.pos[0].cpu().numpy())
    png = contact_figure_png(ligand.mol, contacts,
                             title=f"{ligand.name}: rank 1, confidence {float(poses.confidence[0]):.2f}")
    (folder / "rank1.png").write_bytes(png)
    return contacts, pb_tags
