"""`sciffusion docking` commands: make-index, prepare, train, train-confidence, train-ranker, evaluate, check-ligands,
baseline vina, vina-agreement.

Each command parses arguments, builds one typed config and calls one pipeline function; heavy
modules are imported inside the commands.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sciffusion.cli.errors import user_errors_exit
from sciffusion.cli.options import PRECISION_HELP, seed_option

app = typer.Typer(
    help="Protein-ligand docking: build an INDEX.csv, prepare complexes into tensors, train the pose "
         "model, run the AutoDock Vina baseline, evaluate predicted poses (RMSD, PoseBusters) and check "
         "ligand files record by record.",
    no_args_is_help=True)
baseline_app = typer.Typer(help="classical docking baselines.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@app.command("make-index")
@user_errors_exit
def make_index(
    out: Path = typer.Option(..., "--out", help="INDEX.csv to write"),
    data_root: Optional[Path] = typer.Option(
        None, "--data-root", help="shared docking data folder (with splits/), or any folder of <id>_protein.pdb[.gz] + "
                                  "<id>_ligand.sdf pairs (flat or one sub-folder per id)"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="CSV of paths (id,protein,ligand[,split,pocket columns]; "
                                                          "relative to the CSV) instead of --data-root"),
    splits: Optional[str] = typer.Option(None, help="comma-separated split names (shared folder only; "
                                                    "default train,val,test_public)"),
    pocket: str = typer.Option("ligand", help="'ligand' (crystal ligand box + margin) or 'blind'"),
    sample: Optional[int] = typer.Option(None, help="keep this many ids per split (seeded)"),
    seed: int = seed_option(0, "Seed for --sample."),
    overwrite: bool = typer.Option(False, help="replace an existing --out"),
) -> None:
    """Write an INDEX.csv (id,protein,ligand,split,pocket_ligand) from a folder of complexes or a CSV of paths.
    Paths resolve from the index file: relative to it for a relative --data-root/--csv, else absolute."""
    from sciffusion.common.io.atomic import refuse_existing, write_text_atomic
    from sciffusion.domains.docking.index import build_index, index_from_csv
    from sciffusion.common.io.outputs import refuse_over_inputs

    if (data_root is None) == (csv is None):
        raise ValueError("--data-root/--csv: give exactly one of them")
    refuse_over_inputs("--out", out, {"--csv": csv, "--data-root": data_root})
    refuse_existing(out, overwrite)
    if csv is not None:
        if splits is not None or sample is not None:
            raise ValueError("--csv: --splits and --sample apply to --data-root only")
        text = index_from_csv(csv, pocket=pocket, out=out)
    else:
        names = None if splits is None else tuple(s for s in splits.split(",") if s)
        text = build_index(data_root, names, pocket=pocket, sample=sample, seed=seed, out=out)
    write_text_atomic(out, text, overwrite=overwrite)
    typer.echo(f"wrote {out} ({text.count(chr(10)) - 1} complexes)")


@app.command()
@user_errors_exit
def prepare(
    index: Path = typer.Option(..., "--index", help="INDEX.csv (see docs/docking.md)"),
    out: Path = typer.Option(..., "--out", help="cache folder (created; resumable)"),
    include_atoms: bool = typer.Option(False, help="also store receptor atoms"),
    pocket_margin: float = typer.Option(4.0, help="margin around a reference ligand/residues, Å"),
    limit: Optional[int] = typer.Option(None, help="only the first N index rows"),
    conformers: int = typer.Option(4, help="seeded ETKDG conformers per ligand, with their change onto the "
                                           "crystal pose (0: none)"),
    conformer_seed: int = typer.Option(0, help="seed of the first conformer (the others count up)"),
) -> None:
    """Turn complexes into torch tensors (<id>.pt) that load with torch alone; writes failures.csv.
    Exits 1 when no complex could be prepared."""
    from sciffusion.pipelines.docking.prepare import PrepareConfig, run_prepare

    summary = run_prepare(PrepareConfig(index=index, out=out, include_atoms=include_atoms,
                                        pocket_margin=pocket_margin, limit=limit, conformers=conformers,
                                        conformer_seed=conformer_seed))
    warned = f"; {summary['warned']} with input warnings, see {out / 'manifest.json'}" if summary["warned"] else ""
    typer.echo(f"prepared {summary['prepared']} (already cached {summary['cached']}), "
               f"failed {summary['failed']} of {summary['complexes']}; see {out / 'failures.csv'}{warned}")
    if summary["prepared"] + summary["cached"] == 0:
        typer.echo(f"error: {index}: nothing prepared, all {summary['failed']} complexes failed; "
                   f"see {out / 'failures.csv'}", err=True)
        raise typer.Exit(code=1)


@app.command()
@user_errors_exit
def train(
    cache: Path = typer.Option(..., "--cache", help="prepared cache folder (<id>.pt, from 'docking prepare')"),
    index: Path = typer.Option(..., "--index", help="INDEX.csv with a split column: train rows train, val rows "
                                                    "validate; a test_public row is refused"),
    out: Path = typer.Option(..., "--out", help="RUN_DIR: last.ckpt, model.ckpt, config.json, curves.csv/png"),
    config: Optional[str] = typer.Option(None, "--config", help="CONFIG.json, or a bundled name: cpu, gpu "
                                                                "(default: built-in defaults)"),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="wall-clock budget of this run"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="stop after this many optimizer steps in all"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="complexes per optimizer step"),
    resume: bool = typer.Option(False, "--resume", help="continue from RUN_DIR/last.ckpt (fresh start if none)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed of the data order and the noise draws"),
    exclude_ids: Optional[Path] = typer.Option(None, "--exclude-ids", help="file of ids never to train or validate "
                                                                           "on, e.g. splits/test_public.txt"),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu, gpu"),
    devices: str = typer.Option("auto", "--devices", help="auto or a device count"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="MODEL.ckpt whose weights start a fresh run "
                                                                       "(fine-tuning; same model config)"),
    precision: Optional[str] = typer.Option(None, "--precision", help="Overrides schedule.precision (default "
                                                                      "32-true, the bundled models'). " + PRECISION_HELP),
) -> None:
    """Train the pose-diffusion score model; `sciffusion dock --model RUN_DIR/model.ckpt` uses it."""
    from sciffusion.pipelines.docking.train import TrainRunConfig, run_train
    from sciffusion.pipelines.docking.train_config import bundled_config, load_train_config

    path = None if config is None else (Path(config) if config.endswith(".json") else bundled_config(config))
    settings = load_train_config(path).with_overrides(max_steps=max_steps, minutes=minutes, batch_size=batch_size,
                                                      seed=seed, precision=precision)
    summary = run_train(TrainRunConfig(cache=cache, index=index, out=out, config=settings, exclude_ids=exclude_ids,
                                       resume=resume, accelerator=accelerator, devices=devices, progress=progress,
                                       init_from=init_from))
    typer.echo(f"trained to step {summary['steps']} (stopped by {summary['stopped']}, {summary['precision']}) "
               f"on {summary['train']} complexes ({summary['val']} val) in {summary['seconds']:.0f} s; see {out / 'model.ckpt'}")


@app.command()
@user_errors_exit
def evaluate(
    pred: Path = typer.Option(..., "--pred", help="PRED_DIR: <id>/rank<k>.sdf (or seed_*/<id>/...)"),
    ref: Path = typer.Option(..., "--ref", help="REF_DIR: <id>_ligand.sdf and <id>_protein.pdb(.gz)"),
    out: Path = typer.Option(..., "--out", help="REPORT_DIR (must not exist unless --overwrite)"),
    ids: Optional[Path] = typer.Option(None, help="file of ids to score (missing predictions count as failures)"),
    top_k: int = typer.Option(5, help="poses per complex to score (top-k success)"),
    posebusters: bool = typer.Option(True, help="run PoseBusters 'redock' checks on every scored pose"),
    pb_top_k: Optional[int] = typer.Option(None, "--pb-top-k", help="PoseBusters checks on the first N ranked poses "
                                           "only (default: all --top-k)"),
    name: Optional[str] = typer.Option(None, help="method name for the table (default: the PRED_DIR folder's name)"),
    overwrite: bool = typer.Option(False, help="replace an existing REPORT_DIR"),
) -> None:
    """Score predicted poses: RMSD, centroid distance, PoseBusters; writes per_complex.csv, summary.json, CDF plot."""
    from sciffusion.pipelines.docking.evaluate import EvaluateConfig, format_table, run_evaluate

    summary = run_evaluate(EvaluateConfig(pred=pred, ref=ref, out=out, ids_file=ids, top_k=top_k,
                                          posebusters=posebusters, name=name or pred.resolve().name,
                                          overwrite=overwrite, pb_top_k=pb_top_k))
    typer.echo(format_table([summary]))


@baseline_app.command("vina")
@user_errors_exit
def baseline_vina(
    index: Path = typer.Option(..., "--index", help="INDEX.csv"),
    out: Path = typer.Option(..., "--out", help="PRED_DIR to fill (resumable)"),
    exhaustiveness: int = typer.Option(8, help="Vina exhaustiveness"),
    n_poses: int = typer.Option(9, help="poses per complex"),
    seed: int = seed_option(42, "Seed for ETKDG and Vina."),
    pocket_margin: float = typer.Option(4.0, help="margin around reference ligand/residues, Å"),
    workers: int = typer.Option(1, help="worker processes (each Vina gets 1 CPU when > 1)"),
    cpu: int = typer.Option(0, help="CPUs per Vina run (0: all if workers == 1, else 1)"),
    limit: Optional[int] = typer.Option(None, help="only the first N index rows"),
) -> None:
    """Dock the index with AutoDock Vina into PRED_DIR (<id>/rank<k>.sdf, timing.csv, failures.csv).
    Exits 1 when no complex is docked."""
    from sciffusion.pipelines.docking.vina_baseline import VinaConfig, run_vina_baseline

    summary = run_vina_baseline(VinaConfig(index=index, out=out, exhaustiveness=exhaustiveness, n_poses=n_poses,
                                           seed=seed, pocket_margin=pocket_margin, workers=workers, cpu=cpu,
                                           limit=limit))
    typer.echo(f"vina: {summary['done']}/{summary['complexes']} docked "
               f"({summary['skipped_existing']} already done), {summary['failed']} failed; see {out / 'failures.csv'}")
    if summary["done"] == 0:
        typer.echo(f"error: {index}: nothing docked, all {summary['failed']} complexes failed; "
                   f"see {out / 'failures.csv'}", err=True)
        raise typer.Exit(code=1)


@app.command("check-ligands")
@user_errors_exit
def check_ligands(
    file: Path = typer.Argument(..., help="ligand file: SDF (multi-record, .gz ok), MOL2, .smi or CSV"),
    smiles_column: str = typer.Option("smiles", help="SMILES column of a CSV file"),
    max_heavy_atoms: int = typer.Option(150, "--max-heavy-atoms", min=1, help="larger ligands are reported as "
                                        "failed (as 'dock --max-heavy-atoms' does)"),
) -> None:
    """Report every ligand record (ok, or its number, line range and problem); exit 1 if any failed."""
    from sciffusion.pipelines.docking.check_ligands import check_ligands as run_check

    report = run_check(file, smiles_column=smiles_column, max_heavy_atoms=max_heavy_atoms)
    for line in report.lines:
        typer.echo(line)
    if report.failed:
        raise typer.Exit(code=1)


@app.command("train-confidence")
@user_errors_exit
def train_confidence(
    model: Path = typer.Option(..., "--model", help="score-model file MODEL.ckpt (from 'sciffusion docking train')"),
    index: Path = typer.Option(..., "--index", help="INDEX.csv with train and val rows (a test_public row is refused)"),
    out: Path = typer.Option(..., "--out", help="DIR: confidence.ckpt, samples.csv, failures.csv, report.json"),
    samples: int = typer.Option(16, "--samples", help="poses sampled per complex (dock with a similar --samples)"),
    steps: int = typer.Option(20, "--steps", help="reverse-diffusion steps per sample"),
    conformers: int = typer.Option(4, "--conformers", help="seeded ETKDG start conformers per ligand (as in "
                                                           "'sciffusion dock')"),
    seed: int = seed_option(0, "Seed for conformers and poses."),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N train and first N val rows"),
    device: str = typer.Option("cpu", "--device", help="torch device of the score model: cpu, cuda, ..."),
    label_rmsd: float = typer.Option(2.0, "--label-rmsd", help="a sampled pose is a positive when its RMSD to the "
                                                                "crystal is below this, Å (top-1 success is still "
                                                                "reported at 2 Å)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing DIR"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
) -> None:
    """Fit the pose confidence model (label: RMSD < 2 Å) on the score model's own samples of the train
    complexes and report it on val; `sciffusion dock --confidence DIR/confidence.ckpt` uses it."""
    from sciffusion.pipelines.docking.confidence_train import ConfidenceTrainConfig, run_confidence_train

    report = run_confidence_train(ConfidenceTrainConfig(model=model, index=index, out=out, samples=samples,
                                                        steps=steps, conformers=conformers, seed=seed, limit=limit,
                                                        device=device, overwrite=overwrite, progress=progress,
                                                        label_rmsd=label_rmsd))
    val = report["val"]
    if val["oracle"]["complexes"]:
        aurocs = ["n/a" if v is None else f"{v:.3f}"
                  for v in (val["learned"]["auroc"], val["clash_confidence"]["auroc"])]
        typer.echo(f"val ({val['learned']['complexes']} complexes): AUROC learned {aurocs[0]} vs "
                   f"clash {aurocs[1]}; top-1 success learned "
                   f"{val['learned']['top1_success']:.3f}, clash {val['clash_confidence']['top1_success']:.3f}, "
                   f"oracle {val['oracle']['top1_success']:.3f}; top-1 median RMSD learned "
                   f"{val['learned']['top1_median_rmsd']:.2f} A, clash {val['clash_confidence']['top1_median_rmsd']:.2f} A")
    typer.echo(f"fitted on {report['train']['learned']['complexes']} train complexes "
               f"({len(report['failed'])} failed); see {out / 'report.json'}")


@app.command("train-ranker")
@user_errors_exit
def train_ranker(
    train: list[str] = typer.Option(..., "--train", help="PRED_DIR=REF_DIR of docked training complexes (dock or "
                                                         "bench runs with refinement and a learned confidence: "
                                                         "<id>/poses.sdf); repeatable"),
    out: Path = typer.Option(..., "--out", help="DIR: ranker.json, table.txt, poses.csv (must not exist)"),
    val: Optional[list[str]] = typer.Option(None, "--val", help="PRED_DIR=REF_DIR evaluated, never fitted on; "
                                                                "repeatable"),
    l2: float = typer.Option(1e-2, "--l2", help="L2 penalty on the logistic weights"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing DIR"),
) -> None:
    """Fit the learned pose ranking (logistic model over learned confidence, Vina-like terms and pose
    agreement; label RMSD < 2 Å) and compare it with the confidence, Vina-like and Borda rankings;
    `sciffusion dock --rank-by learned --ranker DIR/ranker.json` uses it."""
    from sciffusion.pipelines.docking.ranker_train import RankerTrainConfig, format_ranker_table, parse_pair, run_ranker_train

    record = run_ranker_train(RankerTrainConfig(train=tuple(parse_pair(t, "--train") for t in train), out=out,
                                                val=tuple(parse_pair(v, "--val") for v in val or ()), l2=l2,
                                                overwrite=overwrite), log=typer.echo)
    typer.echo(format_ranker_table(record["metrics"]))
    typer.echo(f"wrote {out / 'ranker.json'}")


@app.command("vina-agreement")
@user_errors_exit
def vina_agreement(
    index: Path = typer.Option(..., "--index", help="INDEX.csv"),
    out: Path = typer.Option(..., "--out", help="DIR: poses.csv, report.json, scatter.png (must not exist)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N index rows"),
    perturbations: int = typer.Option(4, "--perturbations", help="perturbed poses per complex (besides the crystal)"),
    seed: int = seed_option(0, "Seed for the perturbations."),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing DIR"),
) -> None:
    """Score crystal and perturbed poses with AutoDock Vina and our torch Vina-like score; report
    Pearson r and mean absolute difference (kcal/mol)."""
    from sciffusion.pipelines.docking.vina_agreement import VinaAgreementConfig, run_vina_agreement

    report = run_vina_agreement(VinaAgreementConfig(index=index, out=out, limit=limit, perturbations=perturbations,
                                                    seed=seed, overwrite=overwrite))
    total = report["total_normalised"]
    typer.echo(f"{report['complexes']} complexes, {report['poses']} poses ({len(report['failed'])} failed): "
               f"Pearson r {total['pearson_r']:.3f}, MAE {total['mae_kcal_mol']:.2f} kcal/mol; see {out / 'report.json'}")
