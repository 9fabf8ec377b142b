"""``sciffusion bench docking``: several docking methods on the same complexes, one evaluation, one table.

Methods: ``vina`` (AutoDock Vina re-docking through :mod:`sciffusion.pipelines.docking.vina_baseline`,
poses in ``OUT/vina/``), ``crystal`` (the crystal pose as rank 1: a harness check that must give
RMSD 0 Å and PB-valid), ``--dock NAME=MODEL`` (``sciffusion dock`` in this process on every
complex, pocket = the index row's pocket, e.g. crystal ligand box + 4 Å; MODEL a pose-diffusion
checkpoint, ``MODEL.ckpt+CONF.ckpt`` for one ranked by a learned confidence model (``sciffusion docking
train-confidence``), or ``random``, the random-pose control ranked by the clash/contact score; the input ligand's
pose is never used: each run starts from a seeded ETKDG conformer), and any ``NAME=PRED_DIR`` already
in the PRED_DIR layout of ``sciffusion docking evaluate``. For a long Vina run that must survive interruptions, run the
resumable ``sciffusion docking baseline vina`` first and pass its folder as ``vina=DIR``.

Every method is scored by :func:`sciffusion.pipelines.docking.evaluate.run_evaluate` on the index ids
(a missing prediction is a failure) against one reference folder built from the index (``OUT/ref``,
symlinks in the shared layout). Writes ``OUT/<method>_report/``, ``OUT/table.txt``,
``OUT/summary.json`` (method → mean ± sd of the metrics over seeds), ``OUT/rmsd_cdf.png``,
``OUT/ids.txt`` and ``OUT/config.json``, all at once: OUT appears only when every method is scored.
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

METHODS = ("vina", "crystal")


@dataclass(frozen=True)
class DockingBenchConfig:
    """``index``: INDEX.csv of the complexes; ``out``: the benchmark folder; ``methods`` run here;
    ``predictions``: (name, PRED_DIR) pairs made elsewhere; Vina's ``workers`` and ``exhaustiveness``;
    ``top_k`` poses scored per complex; ``posebusters``: run the PoseBusters redock checks. ``--dock``
    methods: ``samples``, ``steps``, ``conformers`` per complex, one run per seed of ``seeds``
    (``<method>/seed_<s>/`` when there are several: the evaluation reports mean ± sd over them),
    ``blind``: ignore the index's pocket (the pocket finder's ``blind_pockets`` best pockets);
    ``refine_steps``, ``rank_by`` (None: each model's default) and ``guidance_scale`` (learned models
    only) as in ``sciffusion dock``, for every ``--dock`` method (MODEL may be ``physics``) unless its
    spec overrides them (:func:`parse_dock_spec`); ``pb_top_k``: ranked poses per complex that get the
    PoseBusters checks (None: all ``top_k``)."""

    index: Path
    out: Path
    overwrite: bool = False
    methods: tuple[str, ...] = METHODS
    predictions: tuple[tuple[str, Path], ...] = ()
    workers: int = 1
    exhaustiveness: int = 8
    top_k: int = 5
    posebusters: bool = True
    docked: tuple[tuple[str, str], ...] = ()
    samples: int = 10
    steps: int = 20
    seeds: tuple[int, ...] = (0,)
    conformers: int = 4
    blind: bool = False
    blind_pockets: int = 3
    refine_steps: int = 0
    rank_by: str | None = None
    guidance_scale: float = 0.0
    pb_top_k: int | None = None

    def __post_init__(self) -> None:
        if not Path(self.index).is_file():
            raise FileNotFoundError(f"{self.index}: index file not found (--index)")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"--methods: unknown {', '.join(unknown)} (choose from {', '.join(METHODS)}; "
                             "use --pred NAME=DIR for others)")
        names = list(self.methods) + [name for name, _ in self.predictions] + [name for name, _ in self.docked]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"--methods/--pred: method name used twice: {', '.join(repeated)}")
        if not names:
            raise ValueError("--methods/--pred: nothing to evaluate (give a method or --pred NAME=DIR)")
        for name, folder in self.predictions:
            if not name or "/" in name or name in ("ref",):
                raise ValueError(f"--pred: bad method name {name!r} (no '/', not 'ref')")
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"{folder}: prediction folder of {name} not found (--pred)")
        if self.workers < 1:
            raise ValueError(f"--workers: must be >= 1, got {self.workers}")
        if self.exhaustiveness < 1:
            raise ValueError(f"--exhaustiveness: must be >= 1, got {self.exhaustiveness}")
        if self.top_k < 1:
            raise ValueError(f"--top-k: must be >= 1, got {self.top_k}")
        for name, spec in self.docked:
            if not name or "/" in name or name in ("ref",):
                raise ValueError(f"--dock: bad method name {name!r} (no '/', not 'ref')")
            method = parse_dock_spec(spec, self)
            model, confidence = method.model, method.confidence
            if model not in ("random", "physics") and not Path(model).is_file():
                raise FileNotFoundError(f"{model}: model checkpoint of {name} not found (--dock)")
            if confidence is not None and not confidence.is_file():
                raise FileNotFoundError(f"{confidence}: confidence model of {name} not found (--dock)")
        if self.samples < 1 or self.steps < 1:
            raise ValueError(f"--samples/--steps: must be >= 1, got {self.samples}/{self.steps}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ValueError(f"--seeds: need distinct seeds >= 0, got {list(self.seeds)}")
        if not 0 <= self.refine_steps <= 1000:
            raise ValueError(f"--refine-steps: must be in 0..1000, got {self.refine_steps}")
        if self.rank_by not in (None, "confidence", "vina", "combined"):
            raise ValueError(f"--rank-by: must be one of confidence, vina, combined, learned, got {self.rank_by!r}")
        if not (math.isfinite(self.guidance_scale) and self.guidance_scale >= 0):
            raise ValueError(f"--guidance-scale: must be a finite number >= 0, got {self.guidance_scale}")
        if self.pb_top_k is not None and not 1 <= self.pb_top_k <= self.top_k:
            raise ValueError(f"--pb-top-k: must be in 1..--top-k ({self.top_k}), got {self.pb_top_k}")
        if self.conformers < 1 or self.blind_pockets < 1:
            raise ValueError(f"--conformers/--blind-pockets: must be >= 1, got {self.conformers}/{self.blind_pockets}")


def split_dock_model(spec: str) -> tuple[str, Path | None]:
    """``MODEL`` → (MODEL, None); ``MODEL.ckpt+CONF.ckpt`` → (MODEL.ckpt, CONF.ckpt): a score model and the
    learned confidence that ranks its poses (split at the last '+')."""
    model, sep, confidence = spec.rpartition("+")
    if not sep:
        return spec, None
    if not model.strip() or not confidence.strip():
        raise ValueError(f"--dock: expected MODEL or MODEL+CONF.ckpt (MODEL a checkpoint or a control), got {spec!r}")
    return model.strip(), Path(confidence.strip())


SPEC_KEYS = {"guidance": "guidance_scale", "refine": "refine_steps", "rank": "rank_by", "contact": "contact_penalty"}


@dataclass(frozen=True)
class DockMethod:
    """One ``--dock`` method resolved: ``model`` (checkpoint path, ``random`` or ``physics``), its
    ``confidence`` checkpoint (or None), ``refine_steps``, ``rank_by`` (None: the model's default),
    ``guidance_scale`` (mol/kcal; always 0 for the controls) and ``contact_penalty`` (PoseBusters'
    minimum distance kept in refinement and ranking; ``sciffusion dock``'s default: off)."""

    model: str
    confidence: Path | None
    refine_steps: int
    rank_by: str | None
    guidance_scale: float
    contact_penalty: bool = False


def parse_dock_spec(spec: str, cfg: DockingBenchConfig) -> DockMethod:
    """``MODEL[+CONF][@key=value,...]`` → :class:`DockMethod`; keys ``guidance`` (scale, mol/kcal),
    ``refine`` (steps), ``rank`` (confidence | vina | combined | learned) and ``contact`` (1 | 0: the
    contact penalty) override the bench-wide ``--guidance-scale/--refine-steps/--rank-by`` (and the
    default contact penalty) for this method only, e.g.
    ``M.pt+C.pt@guidance=0.3,refine=100,rank=vina``. One-line errors on an unknown key or bad value."""
    settings = {"guidance_scale": cfg.guidance_scale, "refine_steps": cfg.refine_steps, "rank_by": cfg.rank_by,
                "contact_penalty": False}
    head, sep, tail = spec.rpartition("@")
    if sep and "=" in tail:
        spec = head
        for item in tail.split(","):
            key, eq, value = (part.strip() for part in item.partition("="))
            if not eq or key not in SPEC_KEYS or not value:
                raise ValueError(f"--dock: bad setting {item!r} in {spec + sep + tail!r} "
                                 f"(expected key=value with key one of {', '.join(SPEC_KEYS)})")
            try:
                settings[SPEC_KEYS[key]] = {"guidance": float, "refine": int, "rank": str, "contact": _flag}[key](value)
            except ValueError:
                raise ValueError(f"--dock: {key}={value!r} is not a valid value ({spec + sep + tail!r})") from None
    model, confidence = split_dock_model(spec)
    if model in ("random", "physics"):
        settings["guidance_scale"] = 0.0
    return DockMethod(model=model, confidence=confidence, **settings)


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(value)
    return value == "1"


def parse_prediction(item: str) -> tuple[str, Path]:
    """``NAME=PRED_DIR`` → (name, path); one-line error otherwise."""
    name, sep, path = item.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise ValueError(f"--pred: expected NAME=PRED_DIR, got {item!r}")
    return name.strip(), Path(path.strip())


def build_ref_dir(entries, ref: Path) -> None:
    """Symlink each entry's ligand/protein as ``<id>_ligand.sdf`` / ``<id>_protein.pdb[.gz]`` in ``ref``."""
    ref.mkdir(parents=True, exist_ok=True)
    for e in entries:
        suffix = ".pdb.gz" if e.protein.name.endswith(".gz") else ".pdb"
        for kind, source, name in (("ligand", e.ligand, f"{e.id}_ligand.sdf"),
                                   ("protein", e.protein, f"{e.id}_protein{suffix}")):
            if not source.is_file():
                raise FileNotFoundError(f"{source}: {kind} of {e.id} not found")
            link = ref / name
            if not link.exists():
                os.symlink(source.resolve(), link)


def crystal_predictions(entries, out: Path) -> None:
    """The crystal ligand as ``out/<id>/rank1.sdf`` for every entry."""
    for e in entries:
        folder = out / e.id
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(e.ligand, folder / "rank1.sdf")


def dock_predictions(entries, model: str, out: Path, cfg: DockingBenchConfig,
                     log: Callable[[str], None] = print) -> dict[str, int]:
    """``sciffusion dock`` with ``model`` (``MODEL`` or ``MODEL+CONF``, :func:`split_dock_model`) on every
    entry (its own pocket, or blind with ``cfg.blind``), once per seed of ``cfg.seeds``: poses as
    ``out/<id>/rank<k>.sdf`` and ``out/timing.csv`` (one seed) or the same under ``out/seed_<s>/``;
    a complex that fails is logged and left out (scored as a failure)."""
    out.mkdir(parents=True)
    counts = {"docked": 0, "failed": 0}
    for seed in cfg.seeds:
        folder = out if len(cfg.seeds) == 1 else out / f"seed_{seed}"
        one = _dock_one_seed(entries, model, folder, cfg, seed, log)
        counts = {k: counts[k] + one[k] for k in counts}
    return counts


def _pocket_of(entry) -> dict:
    if entry.pocket_box is not None:
        return {"center": tuple(entry.pocket_box.center), "size": tuple(entry.pocket_box.size)}
    if entry.pocket_residues:
        return {"residues": tuple(entry.pocket_residues)}
    if entry.pocket_ligand is not None:
        return {"ref_ligand": entry.pocket_ligand}
    return {}


def _dock_one_seed(entries, model: str, out: Path, cfg: DockingBenchConfig, seed: int,
                   log: Callable[[str], None]) -> dict[str, int]:
    from sciffusion.pipelines.docking.dock import run_dock
    from sciffusion.pipelines.docking.dock_inputs import DockConfig

    method = parse_dock_spec(model, cfg)
    out.mkdir(parents=True, exist_ok=True)
    runs = out.parent / f".{out.name}_runs"
    timing, failed = [], 0
    for i, e in enumerate(entries):
        try:
            pocket = {} if cfg.blind else _pocket_of(e)
            result = run_dock(DockConfig(protein=e.protein, ligand=str(e.ligand), out=runs / e.id,
                                         model=method.model, confidence=method.confidence, samples=cfg.samples,
                                         top_k=min(cfg.top_k, cfg.samples), steps=cfg.steps,
                                         conformers=cfg.conformers, blind_pockets=cfg.blind_pockets,
                                         seed=seed, batch_size=1, progress=False,
                                         refine_steps=method.refine_steps, rank_by=method.rank_by,
                                         guidance_scale=method.guidance_scale,
                                         contact_penalty=method.contact_penalty, **pocket))
        except (ValueError, FileNotFoundError) as exc:
            failed += 1
            log(f"  {e.id}: failed: {exc}")
            continue
        (folder,) = [p for p in (runs / e.id).iterdir() if p.is_dir()]  # one ligand per complex
        shutil.move(str(folder), str(out / e.id))
        timing.append((e.id, result["seconds"]))
        log(f"  seed {seed} {i + 1}/{len(entries)} {e.id}: {result['seconds']:.1f} s")
    shutil.rmtree(runs, ignore_errors=True)
    (out / "timing.csv").write_text("id,seconds\n" + "".join(f"{i},{t:.3f}\n" for i, t in timing))
    return {"docked": len(timing), "failed": failed}


def _top1_rmsds(report: Path) -> list[float]:
    with open(report / "per_complex.csv", newline="") as fh:
        return [float(r["top1_rmsd"]) for r in csv.DictReader(fh)]


def _relocate(summary_json: Path, tmp: Path, final: Path) -> None:
    """Point a report's ``pred``/``ref`` paths at the final folder instead of the run's temporary."""
    summary = json.loads(summary_json.read_text())
    for key in ("pred", "ref"):
        if summary.get(key, "").startswith(str(tmp)):
            summary[key] = str(final) + summary[key][len(str(tmp)):]
    summary_json.write_text(json.dumps(summary, indent=1))


def run_docking_bench(cfg: DockingBenchConfig, log: Callable[[str], None] = print) -> list[dict]:
    """Run the methods, evaluate each with the same settings, write ``cfg.out`` atomically (an existing
    folder only with ``cfg.overwrite``, refused before any work); return the evaluation summaries."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.domains.docking.index import read_index
    from sciffusion.pipelines.docking.evaluate import EvaluateConfig, format_table, run_evaluate
    from sciffusion.pipelines.docking.report import format_ratios, rmsd_cdf_plot

    refuse_existing(cfg.out, cfg.overwrite)
    entries = read_index(cfg.index)
    if "vina" in cfg.methods:
        from sciffusion.pipelines.docking.vina_baseline import check_vina_installed

        check_vina_installed()
    log(f"{len(entries)} complexes from {cfg.index}; methods: "
        f"{', '.join(list(cfg.methods) + [n for n, _ in cfg.docked] + [n for n, _ in cfg.predictions])}")
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        build_ref_dir(entries, tmp / "ref")
        ids_file = tmp / "ids.txt"
        ids_file.write_text("".join(f"{e.id}\n" for e in entries))
        preds: dict[str, Path] = {}
        for method in cfg.methods:
            log(f"{method}: predicting")
            if method == "vina":
                from sciffusion.pipelines.docking.vina_baseline import VinaConfig, run_vina_baseline

                counts = run_vina_baseline(VinaConfig(index=cfg.index, out=tmp / "vina", workers=cfg.workers,
                                                      exhaustiveness=cfg.exhaustiveness))
                log(f"vina: {counts}")
            else:
                crystal_predictions(entries, tmp / "crystal")
            preds[method] = tmp / method
        for name, model in cfg.docked:
            log(f"{name}: docking with {model}")
            counts = dock_predictions(entries, model, tmp / name, cfg, log)
            log(f"{name}: {counts}")
            preds[name] = tmp / name
        preds.update(dict(cfg.predictions))
        summaries, curves = [], {}
        for name, pred in preds.items():
            log(f"{name}: evaluating {len(entries)} complexes"
                + ("" if cfg.posebusters else " (no PoseBusters checks)"))
            report = tmp / f"{name}_report"
            summaries.append(run_evaluate(EvaluateConfig(pred=pred, ref=tmp / "ref", out=report, ids_file=ids_file,
                                                         top_k=cfg.top_k, name=name, posebusters=cfg.posebusters,
                                                         pb_top_k=cfg.pb_top_k)))
            _relocate(report / "summary.json", tmp, cfg.out)
            curves[name] = _top1_rmsds(report)
        table = format_table(summaries)
        if "vina" in preds:
            table += "\n\nratios against vina (method / vina; time: lower is faster)\n" + format_ratios(summaries, "vina")
        (tmp / "table.txt").write_text(table + "\n")
        (tmp / "summary.json").write_text(json.dumps({s["method"]: s["mean_sd"] for s in summaries},
                                                     indent=1, default=str) + "\n")
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
        config["predictions"] = [[n, str(p)] for n, p in cfg.predictions]
        config["docked"] = [[n, m] for n, m in cfg.docked]
        (tmp / "config.json").write_text(json.dumps(config, indent=1) + "\n")
        rmsd_cdf_plot(curves, tmp / "rmsd_cdf.png")
    return summaries


__all__ = ["DockMethod", "DockingBenchConfig", "METHODS", "dock_predictions", "parse_dock_spec", "parse_prediction",
           "run_docking_bench"]
