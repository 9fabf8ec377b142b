"""Write ranked poses in the PRED_DIR layout that ``docking evaluate`` reads (``<id>/rank<k>.sdf``)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sciffusion.common.io.atomic import atomic_path


def write_ranked_poses(folder: str | Path, mol, positions: Sequence, scores: Sequence[float] | None = None,
                       add_hs: bool = False, score_name: str = "score", overwrite: bool = False) -> Path:
    """Write one complex's poses, best first, as ``folder/rank1.sdf, rank2.sdf, ...`` (atomically).

    mol: heavy-atom RDKit Mol (the model's ligand). positions: sequence of [N, 3] arrays/tensors, Å,
    in the method's ranking order. scores: optional per-pose value stored as an SD tag ``score_name``.
    add_hs: add hydrogens with coordinates placed from the heavy atoms (for downstream tools).
    """
    from rdkit import Chem

    from sciffusion.domains.docking.conformers import add_hydrogens, with_positions

    if len(positions) == 0:
        raise ValueError(f"{folder}: no poses to write")
    if scores is not None and len(scores) != len(positions):
        raise ValueError(f"{folder}: {len(scores)} scores for {len(positions)} poses")
    with atomic_path(Path(folder), overwrite=overwrite) as tmp:
        tmp.mkdir()
        for rank, pos in enumerate(positions, start=1):
            pose = with_positions(mol, pos)
            if add_hs:
                pose = add_hydrogens(pose)
            pose.SetProp("_Name", f"rank{rank}")
            if scores is not None:
                pose.SetProp(score_name, f"{float(scores[rank - 1]):.4f}")
            with Chem.SDWriter(str(tmp / f"rank{rank}.sdf")) as writer:
                writer.write(pose)
    return Path(folder)
