"""``sciffusion bench docking-screen``: virtual-screening throughput, ligands per minute on one receptor,
``sciffusion dock`` against AutoDock Vina in the same run on the same CPU.

Protocol: one receptor, one pocket (``--ref-ligand`` heavy atoms + ``margin`` Å per side, the race's
pocket definition), ``count`` ligands drawn (seeded) from a SMILES table in the layout users have
(a ``.csv`` with a ``smiles`` column and optional ``id``/``name``, e.g. the training split's
``metadata.csv`` filtered by ``--ids train.txt``, or a ``.smi`` file). Every ligand starts from SMILES
for both methods (no input pose). ``sciffusion dock`` docks all of them in one call with the settings
given (defaults: the shipped model, its confidence, 10 samples, 100 refinement steps, Vina-like ranking);
Vina (receptor PDBQT prepared once, seeded ETKDG conformer through Meeko per ligand, maps and search per
ligand at ``exhaustiveness``) docks the first ``vina_count`` of the same ligands (all by default: the
sub-sample is for a CPU-time budget, and the table says how many it timed). Throughput = ligands done /
wall seconds × 60, preparation of the receptor included for both.

Writes ``OUT/`` atomically: ``table.txt``, ``summary.json``, ``per_ligand.csv`` (id, smiles, seconds and
top-1 score of each method: Vina kcal/mol, ours the Vina-like ``vina_score`` kcal/mol), ``ligands.csv``
(the drawn ligands), ``throughput.png`` (ligands/min per method), ``dock/`` (our poses) and ``vina/``
(Vina's top pose per ligand as SDF).
"""
from __future__ import annotations

import csv
import json
import math
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class ScreenConfig:
    """``protein`` receptor file; ``ref_ligand`` ligand whose box (+ ``margin`` Å) is the pocket;
    ``ligands`` SMILES table (.csv with ``smiles``, or .smi); ``ids`` optional file of ids to keep
    (e.g. ``splits/train.txt``); ``count`` ligands drawn with ``seed``; ``vina_count`` of them docked
    by Vina (None: all; 0: Vina skipped) at ``exhaustiveness`` on ``vina_cpu`` CPUs (0: all); our ``model``/``confidence`` (None: the
    shipped ones), ``samples``, ``steps``, ``refine_steps``, ``guidance_scale``, ``conformers``,
    ``device``; ``out`` the benchmark folder."""

    protein: Path
    ref_ligand: Path
    ligands: Path
    out: Path
    ids: Path | None = None
    count: int = 100
    seed: int = 0
    vina_count: int | None = None
    exhaustiveness: int = 8
    vina_cpu: int = 0
    margin: float = 4.0
    model: str | None = None
    confidence: Path | None = None
    samples: int = 10
    steps: int = 20
    refine_steps: int = 100
    guidance_scale: float = 0.0
    conformers: int = 4
    device: str = "cpu"
    overwrite: bool = False

    def __post_init__(self) -> None:
        for name, path in (("--protein", self.protein), ("--ref-ligand", self.ref_ligand),
                           ("--ligands", self.ligands)):
            if not Path(path).is_file():
                raise FileNotFoundError(f"{path}: file not found ({name})")
        if self.ids is not None and not Path(self.ids).is_file():
            raise FileNotFoundError(f"{self.ids}: ids file not found (--ids)")
        if self.count < 1:
            raise ValueError(f"--count: must be >= 1, got {self.count}")
        if self.vina_count is not None and not 0 <= self.vina_count <= self.count:
            raise ValueError(f"--vina-count: must be in 0..--count ({self.count}), got {self.vina_count}")
        if self.exhaustiveness < 1:
            raise ValueError(f"--exhaustiveness: must be >= 1, got {self.exhaustiveness}")
        if self.vina_cpu < 0:
            raise ValueError(f"--vina-cpu: must be >= 0, got {self.vina_cpu}")
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise ValueError(f"--margin: must be a finite number >= 0 Å, got {self.margin}")


def read_smiles_table(path: Path, ids: Path | None = None) -> list[tuple[str, str]]:
    """(id, SMILES) rows of a ``.csv`` (``smiles`` column; ``id`` or ``name`` else the row number) or a
    ``.smi`` file (``SMILES [name]`` per line), kept to the ids listed in ``ids`` when given. One-line
    errors on a missing column or an empty selection."""
    rows: list[tuple[str, str]] = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "smiles" not in fields:
                raise ValueError(f"{path}: no 'smiles' column (columns: {', '.join(fields) or 'none'})")
            for k, raw in enumerate(reader, start=1):
                row = {key.strip().lower(): (value or "").strip() for key, value in raw.items() if key}
                if row["smiles"]:
                    rows.append((row.get("id") or row.get("name") or f"ligand_{k}", row["smiles"]))
    else:
        for k, line in enumerate(path.read_text().splitlines(), start=1):
            parts = line.split()
            if parts and not parts[0].startswith("#"):
                rows.append((parts[1] if len(parts) > 1 else f"ligand_{k}", parts[0]))
    if ids is not None:
        keep = set(ids.read_text().split())
        rows = [r for r in rows if r[0] in keep]
    if not rows:
        raise ValueError(f"{path}: no SMILES rows" + (f" with an id listed in {ids}" if ids is not None else ""))
    return rows


def draw_ligands(rows: list[tuple[str, str]], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` distinct rows drawn with ``seed`` (all rows, shuffled, when fewer), in drawn order."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in order[:count]]


def run_screen(cfg: ScreenConfig, log: Callable[[str], None] = print) -> dict:
    """Dock the drawn ligands with ``sciffusion dock`` and with Vina; write ``cfg.out``; return the summary."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing

    refuse_existing(cfg.out, cfg.overwrite)
    ligands = draw_ligands(read_smiles_table(Path(cfg.ligands), cfg.ids), cfg.count, cfg.seed)
    n_vina = len(ligands) if cfg.vina_count is None else min(cfg.vina_count, len(ligands))
    if n_vina:
        from sciffusion.pipelines.docking.vina_baseline import check_vina_installed

        check_vina_installed()
    log(f"{len(ligands)} ligands from {cfg.ligands}; sciffusion dock on all, Vina on {n_vina}")
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        table = tmp / "ligands.csv"
        with open(table, "w", newline="") as fh:
            csv.writer(fh).writerows([("id", "smiles")] + ligands)
        ours = _screen_ours(cfg, table, tmp / "dock", log)
        vina = _screen_vina(cfg, ligands[:n_vina], tmp / "vina", log) if n_vina else None
        summary = _summary(cfg, ligands, ours, vina)
        _write_per_ligand(tmp / "per_ligand.csv", ligands, ours, vina)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        (tmp / "table.txt").write_text(format_screen_table(summary) + "\n")
        throughput_plot(summary, tmp / "throughput.png")
    return summary


def _screen_ours(cfg: ScreenConfig, table: Path, out: Path, log: Callable[[str], None]) -> dict:
    from sciffusion.pipelines.docking.dock import run_dock
    from sciffusion.pipelines.docking.dock_inputs import DockConfig

    log(f"sciffusion dock: {cfg.samples} samples, {cfg.refine_steps} refinement steps, guidance {cfg.guidance_scale}")
    start = time.perf_counter()
    result = run_dock(DockConfig(protein=cfg.protein, ligand=str(table), out=out, ref_ligand=cfg.ref_ligand,
                                 pocket_margin=cfg.margin, model=cfg.model, confidence=cfg.confidence,
                                 samples=cfg.samples, top_k=1, steps=cfg.steps, conformers=cfg.conformers,
                                 refine_steps=cfg.refine_steps, guidance_scale=cfg.guidance_scale, seed=cfg.seed,
                                 device=cfg.device, progress=True))
    wall = time.perf_counter() - start
    per: dict[str, dict] = {}
    with open(out / "summary.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            per[row["name"]] = {"status": row["status"], "seconds": float(row["seconds"] or "nan"),
                                "score": _top_vina_score(out / row["name"] / "poses.sdf")}
    log(f"sciffusion dock: {result['docked']}/{result['ligands']} docked in {wall:.0f} s")
    return {"wall_seconds": wall, "docked": result["docked"], "attempted": result["ligands"], "per": per}


def _top_vina_score(path: Path) -> float:
    """The ``vina_score`` (kcal/mol) SD property of the rank-1 record of a ``poses.sdf`` (nan when absent)."""
    from rdkit import Chem

    if not path.is_file():
        return math.nan
    for mol in Chem.SDMolSupplier(str(path), sanitize=False):
        if mol is not None and mol.HasProp("rank") and mol.GetProp("rank") == "1" and mol.HasProp("vina_score"):
            return float(mol.GetProp("vina_score"))
    return math.nan


def _vina_one(rec: str, smiles: str, center: list, size: list, seed: int, cpu: int, exhaustiveness: int) -> tuple:
    """Dock one SMILES with Vina (runs in a worker process): (kcal/mol of the best pose, its heavy-atom
    mol block)."""
    from rdkit import Chem

    from sciffusion.pipelines.docking.vina_baseline import _poses, _vina_with_receptor, ligand_pdbqt

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError("RDKit could not parse the SMILES")
    vina, _ = _vina_with_receptor(Path(rec), cpu, seed)
    vina.set_ligand_from_string(ligand_pdbqt(mol, seed))
    vina.compute_vina_maps(center=center, box_size=size)
    vina.dock(exhaustiveness=exhaustiveness, n_poses=1)
    return float(vina.energies(n_poses=1)[0][0]), Chem.MolToMolBlock(_poses(vina.poses(n_poses=1))[0])


def _screen_vina(cfg: ScreenConfig, ligands: list[tuple[str, str]], out: Path, log: Callable[[str], None]) -> dict:
    """Vina on ``ligands``, one at a time in a worker process (a crash of the native library is recorded
    as that ligand's failure instead of ending the run); the worker's start-up is timed too."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from rich.progress import Progress
    from rdkit import Chem

    from sciffusion.domains.docking.ligand_io import read_ligand
    from sciffusion.domains.docking.pockets import ligand_pocket_from_mol, resolve_pocket
    from sciffusion.domains.docking.protein import read_protein
    from sciffusion.pipelines.docking.vina_baseline import receptor_pdbqt

    out.mkdir()
    start = time.perf_counter()
    box = resolve_pocket(ligand_pocket_from_mol(read_ligand(cfg.ref_ligand).mol, margin=cfg.margin),
                         read_protein(cfg.protein))
    per: dict[str, dict] = {}
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    try:
        with tempfile.TemporaryDirectory() as work, Progress(transient=False) as progress:
            rec = receptor_pdbqt(Path(cfg.protein), Path(work))  # once per receptor, as a screen would
            task = progress.add_task("vina", total=len(ligands))
            for name, smiles in ligands:
                t0 = time.perf_counter()
                try:
                    energy, block = pool.submit(_vina_one, str(rec), smiles, list(box.center), list(box.size),
                                                cfg.seed, cfg.vina_cpu, cfg.exhaustiveness).result()
                    pose = Chem.MolFromMolBlock(block, sanitize=False)
                    pose.SetProp("_Name", name)
                    pose.SetProp("vina_kcal_mol", f"{energy:.3f}")
                    Chem.MolToMolFile(pose, str(out / f"{name}.sdf"))
                    per[name] = {"status": "ok", "seconds": time.perf_counter() - t0, "score": energy}
                except Exception as exc:  # one bad ligand must not stop the screen; recorded per ligand
                    if isinstance(exc, BrokenProcessPool):
                        pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
                    per[name] = {"status": "failed", "seconds": time.perf_counter() - t0, "score": math.nan,
                                 "reason": " ".join(str(exc).split())[:200] or type(exc).__name__}
                    progress.console.print(f"[red]failed[/red] {name}: {per[name]['reason']}")
                progress.advance(task)
    finally:
        pool.shutdown()
    wall = time.perf_counter() - start
    docked = sum(p["status"] == "ok" for p in per.values())
    log(f"vina: {docked}/{len(ligands)} docked in {wall:.0f} s")
    return {"wall_seconds": wall, "docked": docked, "attempted": len(ligands), "per": per}


def _summary(cfg: ScreenConfig, ligands, ours: dict, vina: dict | None) -> dict:
    import numpy as np

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    methods = {"sciffusion dock": ours} if vina is None else {"sciffusion dock": ours, "vina": vina}
    rows = {}
    for name, run in methods.items():
        seconds = [p["seconds"] for p in run["per"].values() if p["status"] == "ok"]
        rows[name] = {"ligands": run["attempted"], "docked": run["docked"],
                      "wall_seconds": round(run["wall_seconds"], 2),
                      "ligands_per_minute": 60.0 * run["attempted"] / run["wall_seconds"],
                      "median_seconds_per_ligand": float(np.median(seconds)) if seconds else None}
    if vina is not None:
        rows["sciffusion dock"]["ratio_vs_vina"] = (rows["sciffusion dock"]["ligands_per_minute"]
                                                    / rows["vina"]["ligands_per_minute"])
        both = [(ours["per"][n]["score"], vina["per"][n]["score"]) for n in vina["per"] if n in ours["per"]]
        both = [(a, b) for a, b in both if math.isfinite(a) and math.isfinite(b)]
        if len(both) >= 3:
            a, b = np.array(both).T
            rows["sciffusion dock"]["top1_score_pearson_vs_vina"] = float(np.corrcoef(a, b)[0, 1])
            rows["sciffusion dock"]["top1_score_n"] = len(both)
    return {"config": config, "n_ligands": len(ligands), "methods": rows}


def _write_per_ligand(path: Path, ligands, ours: dict, vina: dict | None) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "smiles", "dock_status", "dock_seconds", "dock_vina_score",
                         "vina_status", "vina_seconds", "vina_kcal_mol"])
        for name, smiles in ligands:
            mine = ours["per"].get(name, {"status": "missing", "seconds": math.nan, "score": math.nan})
            theirs = (vina or {"per": {}})["per"].get(name, {"status": "not run", "seconds": math.nan,
                                                              "score": math.nan})
            writer.writerow([name, smiles, mine["status"], f"{mine['seconds']:.3f}", f"{mine['score']:.3f}",
                             theirs["status"], f"{theirs['seconds']:.3f}", f"{theirs['score']:.3f}"])


def format_screen_table(summary: dict) -> str:
    """Plain-text table: per method ligands attempted/docked, wall s, ligands/min, median s per ligand,
    throughput ratio against Vina."""
    header = ["method", "ligands", "docked", "wall s", "ligands/min", "med s/ligand", "x vina"]
    lines = [header]
    for name, row in summary["methods"].items():
        med = row["median_seconds_per_ligand"]
        ratio = row.get("ratio_vs_vina", 1.0 if name == "vina" else None)
        lines.append([name, str(row["ligands"]), str(row["docked"]), f"{row['wall_seconds']:.0f}",
                      f"{row['ligands_per_minute']:.2f}", "-" if med is None else f"{med:.1f}",
                      "-" if ratio is None else f"{ratio:.2f}"])
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in lines)


def throughput_plot(summary: dict, path: Path) -> None:
    """Bar chart of ligands per minute per method (PNG at ``path``)."""
    from matplotlib.figure import Figure

    names = list(summary["methods"])
    values = [summary["methods"][n]["ligands_per_minute"] for n in names]
    fig = Figure(figsize=(4.5, 3.2), dpi=120)
    ax = fig.add_subplot()
    ax.bar(names, values, color=["tab:blue", "tab:orange"][: len(names)])
    for x, v in enumerate(values):
        ax.text(x, v, f"{v:.2f}", ha="center", va="bottom")
    ax.set_ylabel("ligands per minute (higher is faster)")
    ax.set_title(f"screening, {summary['n_ligands']} ligands, one receptor", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


__all__ = ["ScreenConfig", "draw_ligands", "format_screen_table", "read_smiles_table", "run_screen",
           "throughput_plot"]
