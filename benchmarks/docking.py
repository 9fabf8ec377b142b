"""Docking benchmark: several methods on the same complexes, one evaluation, one table.

    python benchmarks/docking.py --index runs/index_public16.csv --out runs/dock_bench \
        --methods vina,crystal --pred mymodel=runs/mymodel_preds --workers 2

Methods: ``vina`` (AutoDock Vina re-docking, ``sciffusion docking baseline vina``; resumable, poses in
``OUT/vina/``), ``crystal`` (the crystal pose as rank 1: a harness check that must give RMSD 0 and
PB-valid), and any ``--pred NAME=PRED_DIR`` already in the PRED_DIR layout. Every method is scored on
the index ids (a missing prediction is a failure) against a reference folder built from the index
(``OUT/ref``, symlinks in the shared layout). Writes ``OUT/<method>_report/``, ``OUT/table.txt``,
``OUT/summary.json`` and ``OUT/rmsd_cdf.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path


def build_ref_dir(entries, ref: Path) -> None:
    """Symlink each entry's ligand/protein as ``<id>_ligand.sdf`` / ``<id>_protein.pdb[.gz]``."""
    ref.mkdir(parents=True, exist_ok=True)
    for e in entries:
        suffix = ".pdb.gz" if e.protein.name.endswith(".gz") else ".pdb"
        for source, name in ((e.ligand, f"{e.id}_ligand.sdf"), (e.protein, f"{e.id}_protein{suffix}")):
            link = ref / name
            if not link.exists():
                os.symlink(source.resolve(), link)


def crystal_predictions(entries, out: Path) -> None:
    for e in entries:
        folder = out / e.id
        if not folder.exists():
            folder.mkdir(parents=True)
            shutil.copy(e.ligand, folder / "rank1.sdf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--methods", default="vina,crystal", help="comma list of: vina, crystal")
    parser.add_argument("--pred", action="append", default=[], help="NAME=PRED_DIR (repeatable)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--exhaustiveness", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--no-posebusters", action="store_true")
    args = parser.parse_args()

    from sciffusion.pipelines.docking.evaluate import EvaluateConfig, format_table, run_evaluate
    from sciffusion.pipelines.docking.index import read_index
    from sciffusion.pipelines.docking.report import rmsd_cdf_plot

    entries = read_index(args.index)
    args.out.mkdir(parents=True, exist_ok=True)
    build_ref_dir(entries, args.out / "ref")
    ids_file = args.out / "ids.txt"
    ids_file.write_text("".join(f"{e.id}\n" for e in entries))
    preds: dict[str, Path] = {}
    for method in [m for m in args.methods.split(",") if m]:
        if method == "vina":
            from sciffusion.pipelines.docking.vina_baseline import VinaConfig, run_vina_baseline

            run_vina_baseline(VinaConfig(index=args.index, out=args.out / "vina", workers=args.workers,
                                         exhaustiveness=args.exhaustiveness))
            preds["vina"] = args.out / "vina"
        elif method == "crystal":
            crystal_predictions(entries, args.out / "crystal")
            preds["crystal"] = args.out / "crystal"
        else:
            parser.error(f"--methods: unknown method {method!r} (use --pred NAME=DIR for others)")
    for item in args.pred:
        name, _, path = item.partition("=")
        if not name or not path:
            parser.error(f"--pred: expected NAME=PRED_DIR, got {item!r}")
        preds[name] = Path(path)
    summaries, curves = [], {}
    for name, pred in preds.items():
        summary = run_evaluate(EvaluateConfig(pred=pred, ref=args.out / "ref", out=args.out / f"{name}_report",
                                              ids_file=ids_file, top_k=args.top_k, name=name,
                                              posebusters=not args.no_posebusters, overwrite=True))
        summaries.append(summary)
        import pandas as pd

        curves[name] = pd.read_csv(args.out / f"{name}_report" / "per_complex.csv")["top1_rmsd"].tolist()
    table = format_table(summaries)
    print(table)
    (args.out / "table.txt").write_text(table + "\n")
    (args.out / "summary.json").write_text(json.dumps(
        {s["method"]: s["mean_sd"] for s in summaries}, indent=1, default=str))
    rmsd_cdf_plot(curves, args.out / "rmsd_cdf.png")


if __name__ == "__main__":
    main()
