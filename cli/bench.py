"""`sciffusion bench` commands."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sciffusion.cli.errors import user_errors_exit
from sciffusion.cli.options import (DENSITY_HELP, PIXELS_HELP, POSITIONS_HELP, PRECISION_HELP, SCORE_HELP,
                                    TARGET_FRAMES_HELP, WHOLE_INPUT_HELP, progress_bar, seed_list, seed_option)

app = typer.Typer(
    help="Benchmarks against peer libraries, baselines and closed forms: samplers, likelihood, inpainting, "
         "docking race and screening, frame prediction (baselines and models), rare-event fidelity, anomaly "
         "detection against PyOD; "
         "one table, CSVs and a plot per run.",
    no_args_is_help=True,
)


def _names(value: Optional[str], option: str) -> tuple[str, ...]:
    """Split a comma list, keeping commas inside parentheses: ``a,UniPC(bh2,karras)`` → 2 names.
    ``None`` (option not given) → ``()``; a given list with no name in it is an error."""
    if value is None:
        return ()
    names, depth, cur = [], 0, ""
    for ch in value:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            names.append(cur)
            cur = ""
        else:
            cur += ch
    out = tuple(n.strip() for n in names + [cur] if n.strip())
    if not out:
        raise ValueError(f"{option}: no name in {value!r}")
    return out


def _budgets(value: Optional[str]) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in _names(value, "--budgets"))
    except ValueError:
        raise ValueError(f"--budgets: need comma-separated positive integers, got {value!r}") from None


@app.command("samplers")
@user_errors_exit
def samplers(
    out: Path = typer.Option(..., "--out", help="Output folder (samplers.csv, overhead.csv, ratios.csv, "
                                                "config.json, samplers.png)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    quick: bool = typer.Option(False, "--quick", help="Small N, budgets 5,20, 2 timing repeats."),
    no_timing: bool = typer.Option(False, "--no-timing", help="Skip the per-step overhead timing."),
    only: Optional[str] = typer.Option(None, "--only", help="Libraries: sciffusion,k-diffusion,diffusers."),
    sampler_names: Optional[str] = typer.Option(
        None, "--samplers", help="Comma list of sampler names to keep (ours, e.g. euler,dpmpp_2m@designed, or a "
                                 "peer's, e.g. EDMEuler); an unknown name is an error that lists the known ones."),
    budgets: Optional[str] = typer.Option(None, "--budgets", help="NFE budgets, positive integers, e.g. 5,10,20,35,50."),
    n_gmm1d: Optional[int] = typer.Option(None, "--n-gmm1d", help="Samples for gmm1d (default 65536; quick 4096)."),
    n_gmm64: Optional[int] = typer.Option(None, "--n-gmm64", help="Samples for gmm64 (default 32768; quick 2048)."),
) -> None:
    """Our samplers vs k-diffusion and diffusers on exact Gaussian-mixture denoisers, same run."""
    from sciffusion.pipelines.bench.contenders import LIBRARIES
    from sciffusion.pipelines.bench.samplers import SamplerBenchConfig, run_sampler_bench

    cfg = SamplerBenchConfig(out=out, overwrite=overwrite, quick=quick, timing=not no_timing,
                             libraries=_names(only, "--only") if only is not None else LIBRARIES,
                             samplers=_names(sampler_names, "--samplers"), budgets=_budgets(budgets),
                             n_gmm1d=n_gmm1d, n_gmm64=n_gmm64)
    run_sampler_bench(cfg, log=typer.echo)


@app.command("likelihood")
@user_errors_exit
def likelihood(
    out: Path = typer.Option(..., "--out", help="Output folder (likelihood.csv, likelihood.png)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    points: int = typer.Option(16, "--points", help="Test points per case."),
) -> None:
    """PF-ODE log-likelihood error (exact trace and Hutchinson) on Gaussian data, d = 2, 8, 64."""
    from sciffusion.pipelines.bench.likelihood import LikelihoodBenchConfig, format_table, run_likelihood_bench

    rows = run_likelihood_bench(LikelihoodBenchConfig(out=out, overwrite=overwrite, points=points))
    typer.echo(format_table(rows))
    typer.echo(f"wrote {out}/likelihood.csv and {out}/likelihood.png")


@app.command("inpaint")
@user_errors_exit
def inpaint(
    out: Path = typer.Option(..., "--out", help="Output folder (inpaint.csv, ratios.csv, inpaint.png)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    quick: bool = typer.Option(False, "--quick", help="Fewer step counts; the peer at 50 steps only."),
    n: int = typer.Option(20_000, "--n", help="Samples per row."),
    cg_iters: int = typer.Option(2, "--cg-iters", help="Conjugate-gradient iterations of the posterior denoiser."),
    no_peers: bool = typer.Option(False, "--no-peers", help="Skip diffusers' RePaintScheduler."),
    seed: int = seed_option(0, "Random seed (same noise for every method)."),
) -> None:
    """Inpainting error against closed-form conditionals: replacement, RePaint, posterior denoiser, SMC, diffusers RePaint."""
    from sciffusion.pipelines.bench.inpaint import InpaintBenchConfig, format_table, ratio_rows, run_inpaint_bench

    cfg = InpaintBenchConfig(out=out, overwrite=overwrite, quick=quick, n=n, cg_iters=cg_iters,
                             peers=not no_peers, seed=seed)
    rows = run_inpaint_bench(cfg, log=typer.echo)
    typer.echo(format_table(rows, ratio_rows(rows)))
    typer.echo(f"wrote {out}/inpaint.csv, {out}/ratios.csv and {out}/inpaint.png")


@app.command("video-baselines")
@user_errors_exit
def video_baselines(
    out: Path = typer.Option(..., "--out", help="Output folder (baselines.csv, per_frame.csv, ssim_per_frame.png, "
                                                "config.json, driving_class_balance.json)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    datasets: str = typer.Option("smmnist,driving", "--datasets", help="Comma list of: smmnist, driving "
                                                                        "(driving needs the 'driving' extra)."),
    smmnist_clips: int = typer.Option(256, "--smmnist-clips", help="SM-MNIST test clips."),
    driving_episodes: int = typer.Option(32, "--driving-episodes", help="Driving episodes, 4 clips each."),
    fvd_clips: int = typer.Option(32, "--fvd-clips", help="Clips per data set for FVD (the first ones; >= 2)."),
    no_fvd: bool = typer.Option(False, "--no-fvd", help="Skip FVD (no I3D); PSNR/SSIM only."),
    context: int = typer.Option(10, "--context", help="Context frames given to each baseline (>= 2)."),
    horizon: int = typer.Option(10, "--horizon", help="Frames predicted after the context."),
    seed: int = seed_option(1, "Seed of the SM-MNIST and driving clips."),
    i3d_weights: Optional[Path] = typer.Option(None, "--i3d-weights", help="I3D weights (.npz); default "
                                               "$SCIFFUSION_I3D_WEIGHTS or the shared copy."),
) -> None:
    """Copy-last and linear-extrapolation baselines on SM-MNIST and driving: PSNR, SSIM, FVD."""
    from sciffusion.pipelines.bench.video_baselines import VideoBaselinesConfig, format_table, run_video_baselines

    cfg = VideoBaselinesConfig(out=out, overwrite=overwrite, datasets=_names(datasets, "--datasets"),
                               smmnist_clips=smmnist_clips, driving_episodes=driving_episodes, fvd=not no_fvd,
                               fvd_clips=fvd_clips, context=context, horizon=horizon, seed=seed,
                               i3d_weights=i3d_weights)
    rows = run_video_baselines(cfg, log=typer.echo)
    typer.echo(format_table(rows))
    typer.echo(f"wrote {out}/baselines.csv, per_frame.csv and ssim_per_frame.png")


def _video_model(item: str) -> tuple[str, Path, Optional[float]]:
    """``NAME=PATH[@init-sigma=S]`` → (name, path, S or None); one-line error otherwise."""
    spec, _, option = item.partition("@")
    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise ValueError(f"--model: expected NAME=PATH[@init-sigma=S] (a model file of 'video train'), got {item!r}")
    init = None
    if option:
        key, _, value = option.partition("=")
        try:
            if key.strip() != "init-sigma":
                raise ValueError
            init = float(value)
        except ValueError:
            raise ValueError(f"--model: expected NAME=PATH@init-sigma=S with S a number, got {item!r}") from None
    return name.strip(), Path(path.strip()), init


@app.command("video")
@user_errors_exit
def video(
    data: Path = typer.Option(..., "--data", help="Held-out test store (zarr dataset; a store with attr "
                                                  "split = train is refused)."),
    model: list[str] = typer.Option(..., "--model", help="NAME=PATH[@init-sigma=S]: a video model file "
                                                         "(RUN_DIR/model.ckpt of 'video train', arch spacetime or "
                                                         "concat), sampled with the warm start S (video predict "
                                                         "--init-sigma; 0 = none); without S, the warm start the "
                                                         "file recommends, as video predict takes it (the bundled "
                                                         "driving prediction model: 0.1), else none; repeatable, "
                                                         "one file may appear under several names."),
    out: Path = typer.Option(..., "--out", help="Output folder (video_bench.csv, per_frame.csv, ssim_per_frame.png, "
                                                "config.json)."),
    context: int = typer.Option(10, "--context", help="Context frames given to every method (>= 2)."),
    horizon: int = typer.Option(10, "--horizon", help="Frames predicted after the context."),
    samples: int = typer.Option(1, "--samples", help="Samples K per clip for the models, scored best of K "
                                                     "(the baselines give K = 1)."),
    clips: Optional[int] = typer.Option(None, "--clips", help="The first N clips of --data (default: all)."),
    sampler: str = typer.Option("dpmpp_2m", "--sampler", help="A core sampler: euler, heun, dpmpp_2m, ..."),
    steps: int = typer.Option(10, "--steps", help="Sampler steps per block."),
    fvd_clips: int = typer.Option(0, "--fvd-clips", help="FVD on the first N clips (0 = no FVD, else >= 2; "
                                                         "needs context + horizon >= 9)."),
    i3d_weights: Optional[Path] = typer.Option(None, "--i3d-weights", help="I3D weights (.npz); default "
                                               "$SCIFFUSION_I3D_WEIGHTS or the shared copy."),
    batch_size: int = typer.Option(8, "--batch-size", help="Clips per sampler call and per I3D forward pass."),
    train_batch: int = typer.Option(8, "--train-batch", help="Windows per timed training step."),
    device: str = typer.Option("cpu", "--device", help="Device of the models: cpu, cuda, cuda:1, ..."),
    seed: int = seed_option(0, "Seed of the sampling noise (the same for every model)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="A line per batch of clips of each model."),
) -> None:
    """Copy-last, linear and trained video models on the same test clips: PSNR, SSIM, FVD, time, memory."""
    from sciffusion.pipelines.bench.video import VideoBenchConfig, format_table, run_video_bench

    specs = [_video_model(m) for m in model]
    cfg = VideoBenchConfig(data=data, models=tuple((n, p) for n, p, _ in specs), out=out, context=context,
                           init_sigmas=tuple((n, s) for n, _, s in specs if s is not None),
                           horizon=horizon, samples=samples, clips=clips, sampler=sampler, steps=steps, seed=seed,
                           fvd_clips=fvd_clips, i3d_weights=i3d_weights, batch_size=batch_size,
                           train_batch=train_batch, device=device, overwrite=overwrite)
    rows = run_video_bench(cfg, log=typer.echo, progress=progress)
    typer.echo(format_table(rows))
    typer.echo(f"wrote {out}/video_bench.csv, per_frame.csv, ssim_per_frame.png and config.json")


def _dock_method(item: str) -> tuple[str, str]:
    """``NAME=MODEL`` → (name, model); one-line error otherwise."""
    name, sep, model = item.partition("=")
    if not sep or not name.strip() or not model.strip():
        raise ValueError(f"--dock: expected NAME=MODEL (a checkpoint, MODEL.ckpt+CONF.ckpt, 'random' or 'physics'), "
                         f"got {item!r}")
    return name.strip(), model.strip()


@app.command("docking")
@user_errors_exit
def docking(
    index: Path = typer.Option(..., "--index", help="INDEX.csv of the complexes (id, protein, ligand, pocket columns)."),
    out: Path = typer.Option(..., "--out", help="Output folder (<method>_report/, table.txt, summary.json, "
                                                "rmsd_cdf.png, ref/, ids.txt, config.json)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    methods: str = typer.Option("vina,crystal", "--methods", help="Comma list of methods run here: vina (AutoDock "
                                "Vina re-docking), crystal (crystal pose as rank 1: a harness check)."),
    pred: Optional[list[str]] = typer.Option(None, "--pred", help="NAME=PRED_DIR: predictions made elsewhere, in "
                                             "the 'docking evaluate' layout (repeatable)."),
    workers: int = typer.Option(1, "--workers", help="Parallel Vina runs."),
    exhaustiveness: int = typer.Option(8, "--exhaustiveness", help="Vina exhaustiveness."),
    top_k: int = typer.Option(5, "--top-k", help="Poses scored per complex."),
    no_posebusters: bool = typer.Option(False, "--no-posebusters", help="Skip the PoseBusters checks (faster)."),
    pb_top_k: Optional[int] = typer.Option(None, "--pb-top-k", help="PoseBusters checks on the first N ranked poses "
                                           "only (default: all --top-k; 1 is top-k times cheaper)."),
    dock: Optional[list[str]] = typer.Option(None, "--dock", help="NAME=MODEL: run 'sciffusion dock' on every "
                                             "complex in this process, MODEL a pose-diffusion checkpoint, "
                                             "MODEL.ckpt+CONF.ckpt (ranked by a learned confidence model) or "
                                             "'random' (the random-pose control) or 'physics' (random starts + "
                                             "Monte-Carlo Vina-like refinement) (repeatable). Append "
                                             "@guidance=G,refine=N,rank=R to give this method its own settings, "
                                             "e.g. guided=M.pt+C.pt@guidance=0.3,refine=100,rank=vina."),
    samples: int = typer.Option(10, "--samples", help="Poses per complex for --dock methods."),
    steps: int = typer.Option(20, "--steps", help="Reverse-diffusion steps for --dock methods."),
    seeds: str = typer.Option("0", "--seeds", help="Comma list of seeds of the --dock runs; several give mean ± sd."),
    conformers: int = typer.Option(4, "--conformers", help="Start conformers per ligand for --dock methods."),
    blind: bool = typer.Option(False, "--blind", help="--dock methods ignore the index's pocket (blind docking)."),
    blind_pockets: int = typer.Option(3, "--blind-pockets", help="Pockets searched per complex with --blind."),
    refine_steps: int = typer.Option(0, "--refine-steps", help="--dock methods: Vina-like refinement steps per "
                                                               "pose (0 = off; physics: per round, 0 = 100)."),
    rank_by: Optional[str] = typer.Option(None, "--rank-by", help="--dock methods: confidence | vina | combined | "
                                                                  "learned "
                                                                  "(default: vina for physics, else confidence)."),
    guidance_scale: float = typer.Option(0.0, "--guidance-scale", help="--dock learned models: physics guidance "
                                                                       "scale, mol/kcal (0 = off)."),
) -> None:
    """Docking methods on the same complexes, one evaluation: RMSD and PoseBusters table, CDF plot."""
    from sciffusion.pipelines.bench.docking import DockingBenchConfig, parse_prediction, run_docking_bench

    cfg = DockingBenchConfig(index=index, out=out, overwrite=overwrite, methods=_names(methods, "--methods"),
                             predictions=tuple(parse_prediction(p) for p in pred or ()), workers=workers,
                             exhaustiveness=exhaustiveness, top_k=top_k, posebusters=not no_posebusters,
                             docked=tuple(_dock_method(d) for d in dock or ()), samples=samples, steps=steps,
                             seeds=seed_list(seeds), conformers=conformers, blind=blind, blind_pockets=blind_pockets,
                             refine_steps=refine_steps, rank_by=rank_by, guidance_scale=guidance_scale,
                             pb_top_k=pb_top_k)
    run_docking_bench(cfg, log=typer.echo)
    typer.echo((out / "table.txt").read_text().rstrip())
    typer.echo(f"wrote {out}/table.txt, summary.json and rmsd_cdf.png")


@app.command("docking-screen")
@user_errors_exit
def docking_screen(
    protein: Path = typer.Option(..., "--protein", help="Receptor (PDB/mmCIF, .gz ok)."),
    ref_ligand: Path = typer.Option(..., "--ref-ligand", help="Ligand whose heavy-atom box + --margin is the pocket."),
    ligands: Path = typer.Option(..., "--ligands", help="SMILES table: .csv with a smiles column (id or name "
                                                        "optional), e.g. a split's metadata.csv, or .smi."),
    out: Path = typer.Option(..., "--out", help="Output folder (table.txt, summary.json, per_ligand.csv, "
                                                "throughput.png, dock/, vina/)."),
    ids: Optional[Path] = typer.Option(None, "--ids", help="Keep only the ids listed in this file (e.g. train.txt)."),
    count: int = typer.Option(100, "--count", help="Ligands drawn from the table."),
    seed: int = seed_option(0, "Seed of the draw, of sciffusion dock and of Vina."),
    vina_count: Optional[int] = typer.Option(None, "--vina-count", help="Vina docks the first N drawn ligands "
                                             "(default: all; 0 skips Vina)."),
    exhaustiveness: int = typer.Option(8, "--exhaustiveness", help="Vina exhaustiveness (the race's: 8)."),
    vina_cpu: int = typer.Option(0, "--vina-cpu", help="CPUs per Vina run (0: all); match the threads given "
                                                      "to sciffusion dock (OMP_NUM_THREADS) for a fair race."),
    margin: float = typer.Option(4.0, "--margin", help="Pocket margin around --ref-ligand, Å."),
    model: Optional[str] = typer.Option(None, "--model", help="Pose model checkpoint (default: the bundled one)."),
    confidence: Optional[Path] = typer.Option(None, "--confidence", help="Confidence model (default: bundled)."),
    samples: int = typer.Option(10, "--samples", help="Poses per ligand."),
    steps: int = typer.Option(20, "--steps", help="Reverse-diffusion steps."),
    refine_steps: int = typer.Option(100, "--refine-steps", help="Vina-like refinement steps per pose (0 = off)."),
    guidance_scale: float = typer.Option(0.0, "--guidance-scale", help="Physics guidance scale, mol/kcal."),
    conformers: int = typer.Option(4, "--conformers", help="Start conformers per ligand."),
    device: str = typer.Option("cpu", "--device", help="torch device of sciffusion dock (cpu, cuda, cuda:1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
) -> None:
    """Screening throughput on one receptor: ligands per minute, sciffusion dock against Vina, same run."""
    from sciffusion.pipelines.bench.docking_screen import ScreenConfig, format_screen_table, run_screen

    summary = run_screen(ScreenConfig(protein=protein, ref_ligand=ref_ligand, ligands=ligands, out=out, ids=ids,
                                      count=count, seed=seed, vina_count=vina_count, exhaustiveness=exhaustiveness,
                                      vina_cpu=vina_cpu, margin=margin, model=model, confidence=confidence,
                                      samples=samples,
                                      steps=steps, refine_steps=refine_steps, guidance_scale=guidance_scale,
                                      conformers=conformers, device=device, overwrite=overwrite), log=typer.echo)
    typer.echo(format_screen_table(summary))
    typer.echo(f"wrote {out}/table.txt, summary.json, per_ligand.csv and throughput.png")


def _store_pair(value: Optional[str]) -> Optional[tuple[Path, Path]]:
    if value is None:
        return None
    parts = _names(value, "--driving-stores")
    if len(parts) != 2:
        raise ValueError(f"--driving-stores: expected TRAIN.zarr,TEST.zarr, got {value!r}")
    return Path(parts[0]), Path(parts[1])


@app.command("ood")
@user_errors_exit
def ood(
    out: Path = typer.Option(..., "--out", help="Output folder (results.csv, results.md, results.json, "
                                                "results_by_kind.md, scores_<set>.csv, roc_<set>.png, config.json)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    datasets: str = typer.Option("mnist", "--datasets", help="Comma list of: mnist, smmnist (impossible motion), smmnist-digits (clips of unseen digits), driving (driving needs "
                                                             "the 'driving' extra)."),
    minutes: float = typer.Option(10.0, "--minutes", help="Training budget of our detector per set, minutes."),
    max_steps: int = typer.Option(5000, "--max-steps", help="Training step cap of our detector per set."),
    score: str = typer.Option("auto", "--score", help="Our score: " + SCORE_HELP),
    levels: Optional[int] = typer.Option(None, "--levels", help="Noise levels (NFE = levels; predictive: levels x windows); default 2 for features, 1 for predictive, 10 otherwise."),
    sigma_min: Optional[float] = typer.Option(None, "--sigma-min", help="Lowest noise level, data units; default by score (see sciffusion ood fit --help)."),
    sigma_max: Optional[float] = typer.Option(None, "--sigma-max", help="Highest noise level, data units; default by score."),
    density: Optional[str] = typer.Option(None, "--density", help=DENSITY_HELP),
    recombine: Optional[str] = typer.Option(None, "--recombine", help="Comma list of densities: for an ensemble "
                                            "(--score auto on clip sets, or a+b), also score the same fitted members "
                                            "combined by each (rows 'diffusion (...) [DENSITY]'; no refit, the same "
                                            "held-out calibration inputs; sets where ours is one score get none), "
                                            "e.g. softmax,mean."),
    context_frames: int = typer.Option(3, "--context-frames", help="predictive (clip sets): frames given to the context denoiser."),
    target_frames: int = typer.Option(1, "--target-frames", min=0, help=TARGET_FRAMES_HELP),
    patch_bank: Optional[int] = typer.Option(None, "--patch-bank", help="features: normal patches kept for the per-patch distances; 0: whole-input distances only; default 16384 for images, 0 for clips and vectors."),
    positions: Optional[bool] = typer.Option(None, "--positions/--no-positions", help=POSITIONS_HELP),
    whole_input: Optional[bool] = typer.Option(None, "--whole-input/--no-whole-input", help=WHOLE_INPUT_HELP),
    pixels: Optional[bool] = typer.Option(None, "--pixels/--no-pixels", help=PIXELS_HELP),
    base_channels: int = typer.Option(32, "--base-channels", help="U-Net width of our detector (multiple of 8)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Training batch size of our detector."),
    precision: str = typer.Option("auto", "--precision", help=PRECISION_HELP),
    max_side: int = typer.Option(64, "--max-side", min=0, help="Our detector works on inputs whose larger side is at "
                                 "most this many px (as 'ood fit --max-side'; every bench set is at most 64 px); 0: "
                                 "full size."),
    pyod: str = typer.Option("IForest,KNN,ECOD,PCA,LOF,AutoEncoder", "--pyod", help="PyOD detectors to run."),
    baselines: str = typer.Option("pixel-gaussians", "--baselines", help="Baselines of our own with no network: "
                                  "pixel-gaussians (per-position Gaussians of each place's 3x3 pixels and, for clips, "
                                  "their change since the frame before; PaDiM on pixels); none: skip."),
    mnist_train: int = typer.Option(4000, "--mnist-train", help="MNIST: at most this many normal (0-4) digits to fit on."),
    mnist_test: int = typer.Option(2000, "--mnist-test", help="MNIST: at most this many test digits."),
    smmnist_clips: int = typer.Option(1000, "--smmnist-clips", help="SM-MNIST: normal training clips."),
    smmnist_test_clips: int = typer.Option(200, "--smmnist-test-clips", help="SM-MNIST: normal (and as many "
                                           "anomalous) test clips."),
    driving_episodes: int = typer.Option(40, "--driving-episodes", help="Driving: episodes for training (and as many "
                                         "for testing), 4 clips each."),
    driving_stores: Optional[str] = typer.Option(None, "--driving-stores", help="Driving: TRAIN.zarr,TEST.zarr "
                                                 "make-driving stores of different seeds instead of simulating "
                                                 "(clips cut into 10-frame clips; events are rare in simulation)."),
    driving_train_clips: int = typer.Option(1000, "--driving-train-clips", help="Driving stores: at most this many "
                                            "event-free train clips to fit on."),
    seed: int = seed_option(0, "Seed of the sets, the training and the scores."),
    detector: Optional[Path] = typer.Option(None, "--detector", help="Use this fitted detector (detector.pt, fitted "
                                            "on the set's normal training inputs) instead of training one; one set."),
    model: Optional[Path] = typer.Option(None, "--model", help="Start our detector from this checkpoint, then fit it "
                                         "as usual (as 'ood fit --model': a detector.pt, a DiffusionModule "
                                         "checkpoint, or a video model file, e.g. domains/video/data/"
                                         "video_driving.pt, as the predictive and features scores' network); one set."),
    smmnist_size: int = typer.Option(32, "--smmnist-size", help="SM-MNIST sets: frame size, pixels."),
    smmnist_frames: int = typer.Option(8, "--smmnist-frames", help="SM-MNIST sets: frames per clip."),
) -> None:
    """Anomaly detection: our diffusion detector against PyOD on MNIST 0-4 vs 5-9, SM-MNIST motion, driving events."""
    from sciffusion.pipelines.bench.ood import OODBenchConfig, format_table, run_ood_bench

    cfg = OODBenchConfig(out=out, overwrite=overwrite, datasets=_names(datasets, "--datasets"), minutes=minutes,
                         max_steps=max_steps, score=score, levels=levels, density=density, patch_bank=patch_bank,
                         recombine=_names(recombine, "--recombine"),
                         sigma_min=sigma_min, sigma_max=sigma_max, context_frames=context_frames,
                         target_frames=target_frames or None, positions=positions, whole_input=whole_input, pixels=pixels,
                         max_side=max_side,
                         base_channels=base_channels, batch_size=batch_size, precision=precision,
                         pyod=_names(pyod, "--pyod"),
                         baselines=() if baselines.strip().lower() == "none" else _names(baselines, "--baselines"),
                         mnist_train=mnist_train,
                         mnist_test=mnist_test, smmnist_clips=smmnist_clips, smmnist_test_clips=smmnist_test_clips,
                         driving_episodes=driving_episodes, seed=seed, detector=detector, model=model,
                         smmnist_size=smmnist_size, smmnist_frames=smmnist_frames,
                         driving_stores=_store_pair(driving_stores), driving_train_clips=driving_train_clips)
    rows = run_ood_bench(cfg, log=typer.echo, progress=True)
    typer.echo(format_table(rows))
    typer.echo(f"wrote {out}/results.csv, results.md, results_by_kind.md, results.json, the per-input scores and "
               f"the ROC plots")


@app.command("video-events")
@user_errors_exit
def video_events(
    train: Path = typer.Option(..., "--train", help="Labelled driving store (sciffusion video make-driving) the "
                                                    "event classifier is trained on."),
    test: Path = typer.Option(..., "--test", help="Labelled driving store of other episodes (another make-driving "
                                                  "--seed) for the classifier's held-out accuracy."),
    generated: str = typer.Option(..., "--generated", help="Comma list of generated stores: clips.zarr of "
                                  "'sciffusion video generate --event E', or the folder holding it."),
    out: Path = typer.Option(..., "--out", help="Output folder (classifier.pt, classifier_eval.json, confusion.png, "
                                                "fidelity.csv, fidelity.png, config.json)."),
    frames: int = typer.Option(10, "--frames", help="Window length T in frames (>= 4): training windows and the "
                                                    "first T frames of each generated clip."),
    epochs: int = typer.Option(5, "--epochs", help="Training epochs (one epoch = as many class-balanced draws as "
                                                   "there are training windows)."),
    seed: int = seed_option(0, "Seed of the classifier's initialisation and of its balanced draws."),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="classifier.pt of an earlier video-events "
                                              "run on the same --train store: judge with it instead of training "
                                              "a new one (same judge for several models); still scored on --test."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar while training."),
) -> None:
    """Rare-event fidelity: an independent 3-D conv event classifier, trained on labelled driving windows, judges
    whether generated clips show the event they were asked for."""
    from sciffusion.pipelines.bench.video_events import (EventClassifierConfig, VideoEventsConfig, format_table,
                                                         run_video_events)

    stores = tuple(Path(p) for p in _names(generated, "--generated"))
    cfg = VideoEventsConfig(train=train, test=test, generated=stores, out=out, overwrite=overwrite,
                            classifier=EventClassifierConfig(frames=frames, epochs=epochs, seed=seed),
                            classifier_path=classifier)
    rows = run_video_events(cfg, log=typer.echo, progress=progress)
    typer.echo(format_table(rows))
    typer.echo(f"wrote {out}/fidelity.csv, fidelity.png, classifier_eval.json, confusion.png and classifier.pt")


@app.command("video-label-response")
@user_errors_exit
def video_label_response(
    model: list[str] = typer.Option(..., "--model", help="NAME=PATH: an event video model file (video train "
                                    "model.ckpt, or the bundled domains/video/data/video_driving.pt); repeatable."),
    data: Path = typer.Option(..., "--data", help="Labelled driving store (video make-driving) that no model was "
                                                  "trained on."),
    out: Path = typer.Option(..., "--out", help="Output folder (label_response.csv, self_classification.csv, label_response.png, config.json)."),
    sigmas: str = typer.Option("0.1,0.3,1,3", "--sigmas", help="Comma list of noise levels σ (data in [-1, 1])."),
    windows: int = typer.Option(32, "--windows", help="Windows per event, at most (one per clip of that event)."),
    seed: int = seed_option(0, "Seed of the noise draws (the same draw for every label)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Windows per network call."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """How much of an event model's denoising error on real event windows its event label removes, per σ,
    against the null label and 'normal' (does the model listen to --event?)."""
    from sciffusion.pipelines.bench.video_label_response import (LabelResponseConfig, format_table,
                                                                 run_label_response)

    pairs = []
    for item in model:
        name, path, init = _video_model(item)
        if init is not None:
            raise ValueError(f"--model: @init-sigma has no meaning here, got {item!r}")
        pairs.append((name, path))
    names = _names(sigmas, "--sigmas")
    try:
        levels = tuple(float(v) for v in names)
    except ValueError:
        raise ValueError(f"--sigmas: expected a comma list of numbers, got {sigmas!r}") from None
    cfg = LabelResponseConfig(models=tuple(pairs), data=data, out=out, sigmas=levels, windows=windows, seed=seed,
                              batch_size=batch_size, overwrite=overwrite)
    with progress_bar("label response (model x event)", len(pairs) * 4, enabled=progress) as advance:
        rows = run_label_response(cfg, log=typer.echo, progress=advance)
    typer.echo(format_table(rows))
    typer.echo(f"wrote {out}/label_response.csv, self_classification.csv, label_response.png and config.json")
