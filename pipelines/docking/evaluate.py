"""``docking evaluate``: score predicted poses against crystal references.

PRED_DIR layout (one run)::

    PRED_DIR/<id>/rank1.sdf, rank2.sdf, ...   first molecule of each file; rank = the method's own order
    PRED_DIR/timing.csv                        optional: columns id,seconds (wall time per complex)

Several seeds: ``PRED_DIR/seed_<s>/`` each holding the layout above; metrics are reported per seed
and as mean ± sd over seeds. REF_DIR layout (the shared data layout): ``<id>_ligand.sdf`` and
``<id>_protein.pdb.gz`` (or ``.pdb``). The scored ids are those of ``--ids`` (one per line) or else
every id predicted in any seed; a listed id without a prediction counts as a failure (RMSD = inf).
Outputs (REPORT_DIR, written atomically): ``per_complex.csv`` (one row per id and seed),
``per_pose.csv``, ``summary.json``, ``rmsd_cdf.png``.
"""
from __future__ import annotations

import gzip
import json
import math
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sciffusion.common.io.atomic import atomic_path, refuse_existing
from sciffusion.common.io.outputs import refuse_over_inputs
from sciffusion.common.io.text import read_text

RANK_FILE = re.compile(r"^rank(\d+)\.sdf$")


@dataclass(frozen=True)
class EvaluateConfig:
    """pred/ref/out: folders (layouts in the module docstring). ids_file: ids to score.
    top_k: poses per complex scored. posebusters: run the PB redock checks, on the first ``pb_top_k``
    ranked poses (None: all ``top_k``; 1 makes a large benchmark ~top_k times cheaper and drops the
    top-k-and-PB-valid metric). name: method label."""

    pred: Path
    ref: Path
    out: Path
    ids_file: Path | None = None
    top_k: int = 5
    posebusters: bool = True
    name: str = "method"
    overwrite: bool = False
    pb_top_k: int | None = None

    @property
    def pb_poses(self) -> int:
        """Ranked poses per complex that get the PoseBusters checks (0 without them)."""
        return 0 if not self.posebusters else (self.top_k if self.pb_top_k is None else self.pb_top_k)

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"--top-k: must be >= 1, got {self.top_k}")
        if self.pb_top_k is not None and not 1 <= self.pb_top_k <= self.top_k:
            raise ValueError(f"--pb-top-k: must be in 1..top-k ({self.top_k}), got {self.pb_top_k}")
        if not self.pred.is_dir():
            raise FileNotFoundError(f"{self.pred}: prediction folder not found")
        if not self.ref.is_dir():
            raise FileNotFoundError(f"{self.ref}: reference folder not found")
        if self.ids_file is not None and not self.ids_file.is_file():
            raise FileNotFoundError(f"{self.ids_file}: ids file not found")
        refuse_over_inputs("--out", self.out, {"--pred": self.pred, "--ref": self.ref, "--ids": self.ids_file})


def seed_runs(pred: Path) -> dict[str, Path]:
    """{seed label: run folder}: ``seed_*`` subfolders if any, else PRED_DIR itself as seed ``"0"``."""
    seeds = {p.name[len("seed_"):]: p for p in sorted(pred.glob("seed_*")) if p.is_dir()}
    return seeds or {"0": pred}


def ranked_poses(folder: Path) -> list[Path]:
    """``rank<k>.sdf`` files of one complex folder, sorted by k."""
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := RANK_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def _read_timing(run: Path) -> dict[str, float]:
    from sciffusion.domains.docking.pose_io import read_timing

    path = run / "timing.csv"
    return read_timing(path) if path.exists() else {}


def reference_files(ref: Path, cid: str) -> tuple[Path, Path]:
    """(ligand SDF, protein PDB[.gz]) of complex ``cid`` in a REF_DIR (``<id>_ligand.sdf``, ``<id>_protein.pdb[.gz]``)."""
    ligand = ref / f"{cid}_ligand.sdf"
    if not ligand.is_file():
        raise FileNotFoundError(f"{ligand}: reference ligand for {cid} not found")
    for name in (f"{cid}_protein.pdb.gz", f"{cid}_protein.pdb"):
        if (ref / name).is_file():
            return ligand, ref / name
    raise FileNotFoundError(f"{ref / (cid + '_protein.pdb.gz')}: reference protein for {cid} not found")


def _plain_pdb(protein: Path, work: Path) -> Path:
    if not protein.name.endswith(".gz"):
        return protein
    out = work / protein.name[:-3]
    try:
        with gzip.open(protein, "rt") as handle:
            out.write_text(handle.read())
    except (EOFError, OSError, UnicodeDecodeError) as exc:  # a cut or non-gzip file
        raise ValueError(f"{protein}: truncated or unreadable gzip file ({exc})") from None
    return out


def score_complex(cid: str, folder: Path | None, ligand: Path, protein: Path, cfg: EvaluateConfig,
                  work: Path) -> tuple[dict, list[dict]]:
    """One complex of one seed: (per-complex row, per-pose rows)."""
    from sciffusion.domains.docking.pose_metrics import centroid_distance, pose_rmsd, posebusters_checks

    row = {"id": cid, "n_poses": 0, "top1_rmsd": math.inf, "topk_min_rmsd": math.inf,
           "top1_centroid": math.inf, "top1_pb_valid": False, "top1_pb_failed": "", "error": ""}
    files = ranked_poses(folder)[: cfg.top_k] if folder is not None and folder.is_dir() else []
    if not files:
        row["error"] = "no prediction"
        return row, []
    ref = first_molecule(ligand)
    if ref is None:
        raise ValueError(f"{ligand}: RDKit could not read the reference ligand (empty, truncated or not an SDF)")
    poses, pose_rows = [], []
    for rank, path in enumerate(files, start=1):
        pose_row = {"id": cid, "rank": rank, "file": path.name, "rmsd": math.inf, "centroid": math.inf,
                    "pb_valid": False, "pb_failed": "", "error": ""}
        mol = first_molecule(path)
        try:
            if mol is None:
                raise ValueError("RDKit could not read the pose (empty, truncated or not an SDF)")
            pose_row["rmsd"] = pose_rmsd(mol, ref)
            pose_row["centroid"] = centroid_distance(mol, ref)
            poses.append((len(pose_rows), mol))
        except ValueError as exc:
            pose_row["error"] = f"{path.name}: {exc}"
        pose_rows.append(pose_row)
    checked = [(i, m) for i, m in poses if i < cfg.pb_poses]
    if checked:
        for (i, _), (valid, failed) in zip(checked, posebusters_checks([m for _, m in checked], ref,
                                                                       _plain_pdb(protein, work))):
            pose_rows[i]["pb_valid"], pose_rows[i]["pb_failed"] = valid, failed
    top = pose_rows[0]
    row.update(n_poses=len(pose_rows), top1_rmsd=top["rmsd"], top1_centroid=top["centroid"],
               top1_pb_valid=top["pb_valid"], top1_pb_failed=top["pb_failed"], error=top["error"],
               topk_min_rmsd=min(r["rmsd"] for r in pose_rows))
    row["topk_success_pb"] = any(r["rmsd"] < 2.0 and r["pb_valid"] for r in pose_rows)
    return row, pose_rows


def first_molecule(path: Path):
    """The first record of an SDF as a sanitised RDKit Mol, or None when the file is empty or that
    record cannot be read (RDKit's own log lines held back: the caller reports it in one line)."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        try:
            return next(iter(Chem.SDMolSupplier(str(path))), None)
        except OSError:  # RDKit: "File error: Invalid input file" for an empty file
            return None


def summarize(rows: list[dict], posebusters: bool, topk_pb: bool = True) -> dict:
    """Metrics of one seed's per-complex rows (fractions in [0, 1], RMSD in Å, time in s); ``topk_pb``:
    every top-k pose was PB-checked, so top-k-and-PB-valid is reported."""
    rmsd = np.array([r["top1_rmsd"] for r in rows], dtype=float)
    topk = np.array([r["topk_min_rmsd"] for r in rows], dtype=float)
    pb = np.array([bool(r["top1_pb_valid"]) for r in rows])
    seconds = np.array([r.get("seconds", math.nan) for r in rows], dtype=float)
    out = {
        "n": len(rows), "n_missing": sum(r["error"] == "no prediction" for r in rows),
        "top1_rmsd_lt2": float(np.mean(rmsd < 2)), "top1_rmsd_lt1": float(np.mean(rmsd < 1)),
        "top1_rmsd_lt5": float(np.mean(rmsd < 5)), "topk_rmsd_lt2": float(np.mean(topk < 2)),
        "median_top1_rmsd": float(np.median(rmsd)),
        "median_seconds": float(np.nanmedian(seconds)) if np.isfinite(seconds).any() else None,
        "mean_seconds": float(np.nanmean(seconds)) if np.isfinite(seconds).any() else None,
    }
    if posebusters:
        out["top1_pb_valid"] = float(np.mean(pb))
        out["top1_rmsd_lt2_pb_valid"] = float(np.mean((rmsd < 2) & pb))
        if topk_pb:
            out["topk_rmsd_lt2_pb_valid"] = float(np.mean([bool(r.get("topk_success_pb")) for r in rows]))
    return out


def _mean_sd(per_seed: dict[str, dict]) -> dict:
    keys = [k for k, v in next(iter(per_seed.values())).items() if isinstance(v, float)]
    out = {}
    for key in keys:
        values = np.array([s[key] for s in per_seed.values() if s[key] is not None], dtype=float)
        with np.errstate(invalid="ignore"):  # inf medians (missing predictions) give nan sd
            out[key] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


def read_ids(path: Path) -> list[str]:
    """Complex ids of an ``--ids`` file (whitespace-separated); one-line errors for a file that is not
    text, lists none, or holds a name that is no id (a path: ``/``, ``.``, ``..``)."""
    ids = read_text(path, "a file of complex ids, one per line (--ids)").split()
    if not ids:
        raise ValueError(f"{path}: lists no complex ids (--ids)")
    bad = next((cid for cid in ids if cid in (".", "..") or "/" in cid or "\\" in cid), None)
    if bad is not None:
        raise ValueError(f"{path}: {bad!r} is not a complex id (a folder name under PRED_DIR, no path) (--ids)")
    return ids


def run_evaluate(cfg: EvaluateConfig) -> dict:
    """Evaluate PRED_DIR against REF_DIR; writes REPORT_DIR and returns the summary dict."""
    refuse_existing(cfg.out, cfg.overwrite, "report folder")
    runs = seed_runs(cfg.pred)
    if cfg.ids_file is not None:
        ids = read_ids(cfg.ids_file)
    else:
        ids = sorted({p.name for run in runs.values() for p in run.iterdir() if p.is_dir() and ranked_poses(p)})
    if not ids:
        raise ValueError(f"{cfg.pred}: no predictions found (expected <id>/rank1.sdf)")
    refs = {cid: reference_files(cfg.ref, cid) for cid in ids}
    rows, pose_rows, per_seed = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed, run in runs.items():
            timing, seed_rows = _read_timing(run), []
            for cid in ids:
                start = time.perf_counter()
                row, poses = score_complex(cid, run / cid, *refs[cid], cfg, Path(tmp))
                row.update(seed=seed, seconds=timing.get(cid, math.nan), eval_seconds=time.perf_counter() - start)
                seed_rows.append(row)
                pose_rows += [dict(p, seed=seed) for p in poses]
            per_seed[seed] = summarize(seed_rows, cfg.posebusters, topk_pb=cfg.pb_poses >= cfg.top_k)
            rows += seed_rows
    summary = {"method": cfg.name, "pred": str(cfg.pred), "ref": str(cfg.ref), "top_k": cfg.top_k,
               "pb_top_k": cfg.pb_poses,
               "seeds": list(runs), "per_seed": per_seed, "mean_sd": _mean_sd(per_seed)}
    _write_report(cfg, rows, pose_rows, summary)
    return summary


def _write_report(cfg: EvaluateConfig, rows: list[dict], pose_rows: list[dict], summary: dict) -> None:
    import pandas as pd

    from sciffusion.pipelines.docking.report import rmsd_cdf_plot

    with atomic_path(cfg.out, overwrite=cfg.overwrite) as folder:
        folder.mkdir()
        pd.DataFrame(rows).to_csv(folder / "per_complex.csv", index=False)
        pd.DataFrame(pose_rows).to_csv(folder / "per_pose.csv", index=False)
        (folder / "summary.json").write_text(json.dumps(_finite(summary), indent=1))
        rmsd_cdf_plot({cfg.name: [r["top1_rmsd"] for r in rows]}, folder / "rmsd_cdf.png")


def _finite(value):
    """JSON-safe copy: non-finite floats become the strings "inf"/"nan"."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def format_table(summaries: list[dict]) -> str:
    """Plain-text table, one line per method: mean (± sd over seeds) of the headline metrics."""
    from sciffusion.pipelines.docking.report import format_table as _table

    return _table(summaries)
