"""AutoDock Vina re-docking baseline, on the terms of ``/work/shared/reference/vina_redock.py``.

Per complex: receptor -> OpenBabel (``-xr -h -p 7.4``) rigid PDBQT; ligand -> RDKit AddHs, fresh
seeded ETKDGv3 conformer + MMFF (the input pose is never the start), Meeko PDBQT; box = the index
row's pocket (default: crystal ligand heavy atoms + 4 Å per side); Vina scoring, exhaustiveness 8,
9 poses. Poses are written heavy-atom only in the PRED_DIR layout (see ``evaluate.py``):
``OUT/<id>/rank<k>.sdf`` (k = 1 is Vina's best score), ``OUT/<id>/meta.json``, ``OUT/timing.csv``,
``OUT/failures.csv``, ``OUT/config.json``. Complexes whose folder exists are skipped (resumable).
Needs the ``vina`` extra: PyPI ``vina``, ``meeko``, ``openbabel-wheel``.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from sciffusion.common.io.atomic import write_text_atomic
from sciffusion.common.io.provenance import package_versions
from sciffusion.common.io.text import read_text
from sciffusion.domains.docking.index import IndexEntry, read_index
from sciffusion.domains.docking.pose_io import timing_csv_text, write_ranked_poses

SEED_MAX = 2**32 - 1  # Vina and RDKit take unsigned 32-bit seeds
VERSIONED_PACKAGES = ("vina", "meeko", "openbabel-wheel", "rdkit", "sciffusion")


@dataclass(frozen=True)
class VinaConfig:
    """Vina baseline settings. ``cpu`` per Vina run (0 = all cores when workers == 1, else 1)."""

    index: Path
    out: Path
    exhaustiveness: int = 8
    n_poses: int = 9
    seed: int = 42
    pocket_margin: float = 4.0
    workers: int = 1
    cpu: int = 0
    ph: float = 7.4
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.exhaustiveness < 1:
            raise ValueError(f"--exhaustiveness: must be >= 1, got {self.exhaustiveness}")
        if not 1 <= self.n_poses <= 20:
            raise ValueError(f"--n-poses: must be in 1..20, got {self.n_poses}")
        if self.workers < 1:
            raise ValueError(f"--workers: must be >= 1, got {self.workers}")
        if self.cpu < 0:
            raise ValueError(f"--cpu: must be >= 0, got {self.cpu}")
        if not (math.isfinite(self.pocket_margin) and self.pocket_margin >= 0):
            raise ValueError(f"--pocket-margin: must be a finite number >= 0 Å, got {self.pocket_margin}")
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"--seed: must be an integer in [0, {SEED_MAX}], got {self.seed}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit: must be >= 1, got {self.limit}")
        if self.out.exists() and not self.out.is_dir():
            raise NotADirectoryError(f"--out: {self.out} is a file, not a PRED_DIR folder")


def check_vina_installed() -> None:
    """Raise a one-line ValueError when the ``vina`` extra is missing."""
    missing = [m for m in ("vina", "meeko", "openbabel") if _find_spec(m) is None]
    if missing:
        raise ValueError(f"Vina baseline needs {', '.join(missing)}: pip install 'sciffusion[vina]'")
    if _obabel() is None:
        raise ValueError("Vina baseline needs the obabel executable (pip install openbabel-wheel)")


def _find_spec(name: str):
    import importlib.util

    return importlib.util.find_spec(name)


def _obabel() -> str | None:
    return shutil.which("obabel") or next(
        (str(p) for p in [Path(sys.executable).parent / "obabel"] if p.exists()), None)


def receptor_pdbqt(protein: Path, work: Path, ph: float = 7.4) -> Path:
    """Rigid receptor PDBQT via OpenBabel (hydrogens at ``ph``); returns its path inside ``work``."""
    pdb = work / "receptor.pdb"
    if protein.name.endswith(".gz"):
        with gzip.open(protein, "rt") as handle:
            pdb.write_text(handle.read())
    elif protein.suffix.lower() in (".cif", ".mmcif"):
        import gemmi

        gemmi.read_structure(str(protein)).write_pdb(str(pdb))
    else:
        shutil.copy(protein, pdb)
    out = work / "receptor.pdbqt"
    proc = subprocess.run([_obabel(), str(pdb), "-xr", "-h", "-p", str(ph), "-opdbqt", "-O", str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise ValueError(f"{protein}: OpenBabel receptor preparation failed ({proc.stderr.strip()[:200]})")
    return out


def ligand_pdbqt(mol, seed: int) -> str:
    """Meeko PDBQT of a fresh seeded ETKDG conformer (with hydrogens) of ``mol``."""
    from meeko import MoleculePreparation, PDBQTWriterLegacy

    from sciffusion.domains.docking.conformers import embed_conformer

    mol_h = embed_conformer(mol, seed=seed, keep_hydrogens=True)
    setups = MoleculePreparation().prepare(mol_h)
    pdbqt, ok, err = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise ValueError(f"Meeko could not write the ligand PDBQT: {err.strip()[:200]}")
    return pdbqt


_UNKNOWN_TYPE = re.compile(r"Atom type (\S+) is not a valid AutoDock type")


def _vina_with_receptor(rec: Path, cpu: int, seed: int, max_drops: int = 5):
    """A Vina object with the receptor set. Atoms of types Vina cannot parse (e.g. boron in a borate
    het group) are removed from the receptor PDBQT, one type at a time; returns (vina, dropped types)."""
    from vina import Vina

    dropped: list[str] = []
    while True:
        vina = Vina(sf_name="vina", cpu=cpu, seed=seed, verbosity=0)
        try:
            vina.set_receptor(str(rec))
            return vina, dropped
        except TypeError as exc:
            match = _UNKNOWN_TYPE.search(" ".join(str(exc).split()))
            if match is None or len(dropped) >= max_drops:
                raise
            bad = match.group(1)
            lines = rec.read_text().splitlines(keepends=True)
            rec.write_text("".join(l for l in lines if not (l.startswith(("ATOM", "HETATM"))
                                                              and l[77:79].strip() == bad)))
            dropped.append(bad)


def _poses(vina_out: str) -> list:
    """Heavy-atom RDKit Mols, one per pose, in Vina's order (one molecule: same atoms, same order)."""
    from meeko import PDBQTMolecule, RDKitMolCreate
    from rdkit import Chem

    mol = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(vina_out, skip_typing=True))[0]
    poses = []
    for conf in mol.GetConformers():
        one = Chem.Mol(mol)
        one.RemoveAllConformers()
        one.AddConformer(Chem.Conformer(conf), assignId=True)
        for key in list(one.GetPropNames()):
            one.ClearProp(key)
        poses.append(Chem.RemoveHs(one))
    return poses


def dock_one(entry: IndexEntry, cfg: VinaConfig) -> dict:
    """Dock one complex and write ``cfg.out/<id>/`` atomically; returns its meta dict."""
    from sciffusion.domains.docking.ligand_io import read_ligand
    from sciffusion.domains.docking.pockets import resolve_pocket
    from sciffusion.domains.docking.protein import read_protein

    start = time.perf_counter()
    ligand = read_ligand(entry.ligand).mol
    protein = read_protein(entry.protein)
    box = resolve_pocket(entry.pocket(cfg.pocket_margin), protein)
    cpu = cfg.cpu if cfg.cpu else (0 if cfg.workers == 1 else 1)
    with tempfile.TemporaryDirectory() as tmp:
        rec = receptor_pdbqt(entry.protein, Path(tmp), cfg.ph)
        lig = ligand_pdbqt(ligand, cfg.seed)
        vina, dropped = _vina_with_receptor(rec, cpu, cfg.seed)
        vina.set_ligand_from_string(lig)
        vina.compute_vina_maps(center=list(box.center), box_size=list(box.size))
        vina.dock(exhaustiveness=cfg.exhaustiveness, n_poses=cfg.n_poses)
        energies = vina.energies(n_poses=cfg.n_poses)
        poses = _poses(vina.poses(n_poses=cfg.n_poses))
    seconds = time.perf_counter() - start
    meta = {"id": entry.id, "seconds": round(seconds, 2), "seed": cfg.seed, "n_poses": len(poses),
            "vina_kcal_mol": [round(float(e[0]), 3) for e in energies[: len(poses)]],
            "box_center": list(box.center), "box_size": list(box.size),
            "receptor_dropped_atom_types": dropped, "protein_warnings": list(protein.warnings)}
    write_ranked_poses(cfg.out / entry.id, poses[0], [p.GetConformer().GetPositions() for p in poses],
                       scores=meta["vina_kcal_mol"], score_name="vina_kcal_mol", name_prefix=f"{entry.id}_vina_",
                       extra_files={"meta.json": json.dumps(meta, indent=1)})
    return meta


def _dock_safe(entry: IndexEntry, cfg: VinaConfig) -> tuple[str, dict | None, str]:
    try:
        return entry.id, dock_one(entry, cfg), ""
    except Exception as exc:  # one bad complex must not stop the run; recorded in failures.csv
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        return entry.id, None, f"{type(exc).__name__}: {message}"


def run_vina_baseline(cfg: VinaConfig) -> dict:
    """Dock every index entry not yet done; returns counts. Writes timing.csv and failures.csv."""
    from rich.progress import Progress

    check_vina_installed()
    entries = read_index(cfg.index)[: cfg.limit]
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cfg.out / "config.json", json.dumps(_config_record(cfg), indent=1))
    todo = [e for e in entries if not (cfg.out / e.id).exists()]
    failures: list[tuple[str, str]] = []
    with Progress(transient=False) as progress:
        task = progress.add_task("vina", total=len(todo))
        if cfg.workers == 1:
            results = (_dock_safe(e, cfg) for e in todo)
            for cid, meta, error in results:
                _record(progress, task, cid, error, failures)
        else:
            with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
                futures = [pool.submit(_dock_safe, e, cfg) for e in todo]
                for future in as_completed(futures):
                    cid, meta, error = future.result()
                    _record(progress, task, cid, error, failures)
                    _write_timing(cfg.out)
    _write_timing(cfg.out)
    _write_failures(cfg.out, failures, attempted={e.id for e in todo})
    done = sum((cfg.out / e.id).exists() for e in entries)
    return {"complexes": len(entries), "done": done, "skipped_existing": len(entries) - len(todo),
            "failed": len(failures)}


def _record(progress, task, cid: str, error: str, failures: list) -> None:
    if error:
        failures.append((cid, error))
        progress.console.print(f"[red]failed[/red] {cid}: {error}")
    progress.advance(task)


def _config_record(cfg: VinaConfig) -> dict:
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    record["versions"] = package_versions(VERSIONED_PACKAGES)
    record["protocol"] = "OpenBabel receptor pH 7.4; seeded ETKDGv3+MMFF ligand via Meeko; Vina scoring"
    return record


def _write_timing(out: Path) -> None:
    """``timing.csv`` for every complex docked in ``out`` so far (this run's index or an earlier
    one), so a resumed run or a run over another index never drops earlier timings."""
    seconds = {meta.parent.name: _meta_seconds(meta) for meta in sorted(out.glob("*/meta.json"))}
    write_text_atomic(out / "timing.csv", timing_csv_text(seconds))


def _meta_seconds(path: Path) -> float:
    """``seconds`` of an earlier run's ``<id>/meta.json``; a broken file is an error naming it."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["seconds"]
        seconds = float(value)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: no readable 'seconds' ({type(exc).__name__}: {exc})") from None
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{path}: seconds must be a number >= 0, got {value!r}")
    return seconds


def _write_failures(out: Path, failures: list[tuple[str, str]], attempted: set[str]) -> None:
    """``failures.csv``: this run's failures plus earlier ones for complexes this run did not try
    again and that are still not docked."""
    path = out / "failures.csv"
    kept: list[tuple[str, str]] = []
    if path.exists():
        kept = [(cid, error) for cid, error in _read_failures(path)
                if cid not in attempted and not (out / cid).exists()]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "error"])
    writer.writerows(sorted(kept + failures))
    write_text_atomic(path, buf.getvalue())

def _read_failures(path: Path) -> list[tuple[str, str]]:
    """(id, error) rows of an earlier run's ``failures.csv``; a broken file is an error naming it."""
    reader = csv.DictReader(io.StringIO(read_text(path, "a failures.csv"), newline=""))
    if not {"id", "error"} <= set(reader.fieldnames or []):
        raise ValueError(f"{path}: needs columns id,error, got {reader.fieldnames}")
    return [(r["id"], r["error"]) for r in reader]
