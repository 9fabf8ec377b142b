"""`sciffusion video` commands: datasets in zarr, real footage in, baselines and metrics out, and the
video diffusion model: train, predict, generate.

Each command parses its options, builds a typed config and calls one pipeline function from
``sciffusion.pipelines.video``; heavy imports happen inside the commands.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sciffusion.cli.errors import user_errors_exit
from sciffusion.cli.options import PRECISION_HELP, check_seed, progress_bar, seed_option

app = typer.Typer(help="Video datasets in zarr, footage ingest, prediction baselines, metrics (PSNR, SSIM, "
                       "FVD), mosaics; a space-time video diffusion model: train, predict, generate.",
                  no_args_is_help=True)


@app.command("make-smmnist")
@user_errors_exit
def make_smmnist(
    out: Path = typer.Option(..., "--out", help="Output zarr store (must not exist)."),
    clips: int = typer.Option(256, "--clips", help="Number of clips N."),
    frames: int = typer.Option(20, "--frames", help="Frames T per clip."),
    size: int = typer.Option(64, "--size", help="Frame size H = W in px (digits are size/2)."),
    seed: int = seed_option(0, "Random seed of digits, positions and velocities."),
    split: str = typer.Option("train", "--split", help="train | test (disjoint MNIST digit images)."),
    fps: float = typer.Option(10.0, "--fps", help="Playback rate stored in the metadata."),
    mnist: Optional[Path] = typer.Option(None, "--mnist", help="MNIST images IDX(.gz); default: bundled t10k."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the generated clips."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Stochastic Moving MNIST (two digits, random bounces; SVG/MCVD protocol) -> zarr."""
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig
    from sciffusion.pipelines.video.make_smmnist import MakeSMMNISTConfig, make_smmnist as run

    cfg = MakeSMMNISTConfig(out=out, data=SMMNISTConfig(clips=clips, frames=frames, size=size, seed=seed,
                                                        split=split, fps=fps), mnist_images=mnist,
                            overwrite=overwrite)
    with progress_bar("smmnist", clips, enabled=progress) as advance:
        path = run(cfg, advance)
    typer.echo(f"wrote {path} ({clips} clips x {frames} frames, {size}x{size}, split {split}, seed {seed})")


@app.command("make-driving")
@user_errors_exit
def make_driving(
    out: Path = typer.Option(..., "--out", help="Output zarr store (must not exist)."),
    episodes: int = typer.Option(8, "--episodes", help="Number of highway-env episodes."),
    size: int = typer.Option(64, "--size", help="64 or 128."),
    seed: int = seed_option(0, "Random seed of the episodes and perturbations."),
    clip_frames: int = typer.Option(20, "--clip-frames", help="Frames T per stored clip."),
    clips_per_episode: int = typer.Option(4, "--clips-per-episode", help="Consecutive clips of --clip-frames taken from each episode."),
    fps: int = typer.Option(10, "--fps", help="Simulation (= policy = frame) frequency, Hz."),
    perturb: float = typer.Option(0.3, "--perturb", help="Probability of a seeded random ego action per step."),
    split: Optional[str] = typer.Option(None, "--split", help="train | val | test, recorded in the store (bench "
                                        "commands refuse a train store, video train a test store); default: "
                                        "none recorded (sets with different seeds share no episode)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the simulated episodes."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Synthetic driving with rare-event labels (highway-env, scripted IDM/MOBIL ego) -> zarr."""
    from sciffusion.domains.video.datasets.driving import DrivingConfig
    from sciffusion.pipelines.video.make_driving import MakeDrivingConfig, make_driving as run

    cfg = MakeDrivingConfig(out=out, data=DrivingConfig(episodes=episodes, size=size, seed=seed,
                                                        clip_frames=clip_frames,
                                                        clips_per_episode=clips_per_episode, fps=fps,
                                                        perturb=perturb), overwrite=overwrite, split=split)
    with progress_bar("driving episodes", episodes, enabled=progress) as advance:
        path, balance = run(cfg, advance)
    typer.echo(f"wrote {path}")
    for name, frac in balance.items():
        typer.echo(f"  {name:16s} {frac['frames']:7d} frames ({100 * frac['frame_fraction']:.2f} %), "
                   f"{frac['clips']} clips ({100 * frac['clip_fraction']:.1f} %)")


@app.command("ingest")
@user_errors_exit
def ingest(
    source: Path = typer.Argument(..., help="A video file (mp4, avi, mov, mkv, webm, gif, ...), a folder of frame "
                                            "images (png, jpg, tif, bmp, ...; natural order: 2 before 10), or a folder "
                                            "of video files and/or frame folders (one source each, e.g. UCSD Ped's "
                                            "Train/ or KITTI's drives)."),
    out: Path = typer.Option(..., "--out", help="Output zarr store (must not exist)."),
    size: int = typer.Option(64, "--size", help="Output frame size H = W in px."),
    fit: str = typer.Option("crop", "--fit", help="crop: keep the centre square (no distortion, loses the sides "
                                                  "of wide frames); stretch: scale the whole frame to the square."),
    channels: int = typer.Option(3, "--channels", help="3: RGB; 1: grey (ITU-R 601 luma)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Output frame rate (nearest frame, never above the "
                                                            "source's); default: the source rate."),
    frame_rate: float = typer.Option(10.0, "--frame-rate", help="Rate of frame-image folders, frames per second "
                                                                "(images carry none)."),
    clip_frames: Optional[int] = typer.Option(None, "--clip-frames",
                                              help="Split each source into clips of T frames, the tail dropped "
                                                   "(default: one clip per source; then all must have one length)."),
    min_frames: int = typer.Option(2, "--min-frames", help="Refuse sources with fewer frames."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the decoded frames."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out store."),
) -> None:
    """Real footage in: decode (decord, PyAV fallback; Pillow for frame images), resample, crop, resize -> zarr."""
    from sciffusion.domains.video.ingest import IngestConfig
    from sciffusion.pipelines.video.ingest import IngestPipelineConfig, ingest_video

    cfg = IngestPipelineConfig(source=source, out=out, overwrite=overwrite, frame_rate=frame_rate,
                               ingest=IngestConfig(size=size, fps=fps, clip_frames=clip_frames,
                                                   min_frames=min_frames, fit=fit, channels=channels))
    with progress_bar("frames", None, enabled=progress) as advance:
        path = ingest_video(cfg, progress=advance)
    typer.echo(f"wrote {path}")


@app.command("baseline")
@user_errors_exit
def baseline(
    data: Path = typer.Option(..., "--data", help="Data zarr store (clips of >= context + horizon frames)."),
    out: Path = typer.Option(..., "--out", help="Output prediction zarr store."),
    context: int = typer.Option(10, "--context", help="Frames given to the baseline (the first K of each clip)."),
    horizon: int = typer.Option(10, "--horizon", help="Frames to predict after the context."),
    method: str = typer.Option("copy-last", "--method", help="copy-last | linear"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Deterministic frame-prediction baseline -> prediction zarr (goes through `evaluate`)."""
    from sciffusion.pipelines.video.baseline import BaselineConfig, run_baseline

    path = run_baseline(BaselineConfig(data=data, out=out, context=context, horizon=horizon, method=method,
                                       overwrite=overwrite))
    typer.echo(f"wrote {path}")


@app.command("evaluate")
@user_errors_exit
def evaluate(
    pred: Path = typer.Option(..., "--pred", help="Prediction zarr store."),
    truth: Path = typer.Option(..., "--truth", help="Data zarr store it predicts."),
    out: Path = typer.Option(..., "--out", help="Report folder (metrics.csv, summary.json, plot)."),
    reduce: str = typer.Option("best", "--reduce", help="best | mean over K samples."),
    fvd: bool = typer.Option(True, "--fvd/--no-fvd", help="Compute FVD (our I3D; needs clips of >= 9 frames)."),
    fvd_clips: Optional[int] = typer.Option(None, "--fvd-clips", help="Use the first N clips for FVD."),
    i3d_weights: Optional[Path] = typer.Option(None, "--i3d-weights", envvar="SCIFFUSION_I3D_WEIGHTS",
                                               help="I3D npz (default: ../shared/data/video/i3d/)."),
    batch_size: int = typer.Option(2, "--batch-size", help="Clips per I3D forward pass."),
    feature_cache: Optional[Path] = typer.Option(None, "--feature-cache", help="Folder caching I3D features."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the I3D features."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """PSNR / SSIM per frame and clip, FVD; prints a table and writes the report folder."""
    from rich.console import Console
    from rich.table import Table

    from sciffusion.pipelines.video.evaluate import EvaluateConfig, evaluate as run

    cfg = EvaluateConfig(pred=pred, truth=truth, out=out, reduce=reduce, fvd=fvd, fvd_clips=fvd_clips,
                         i3d_weights=i3d_weights, batch_size=batch_size, feature_cache=feature_cache,
                         overwrite=overwrite)
    total = 2 * fvd_clips if fvd_clips else None
    with progress_bar("I3D features (real + predicted clips)", total, enabled=progress) as advance:
        result = run(cfg, advance)
    table = Table(title=f"{pred} vs {truth}")
    for col in ("method", "clips", "PSNR (dB)", "SSIM", "FVD"):
        table.add_column(col)
    table.add_row(result.method, str(result.clips) + (f" of {result.truth_clips}" if result.truth_clips != result.clips
                                                      else ""), f"{result.psnr:.2f}", f"{result.ssim:.4f}",
                  "-" if result.fvd is None else f"{result.fvd:.1f} ({result.fvd_clips} clips)")
    Console().print(table)
    typer.echo(f"wrote {out}/metrics.csv, summary.json, ssim_per_frame.png")


@app.command("grid")
@user_errors_exit
def grid(
    pred: Path = typer.Option(..., "--pred", help="Prediction zarr store."),
    truth: Path = typer.Option(..., "--truth", help="Data zarr store."),
    out: Path = typer.Option(..., "--out", help="Output .png (still), .gif or .mp4 (animated)."),
    clips: int = typer.Option(4, "--clips", help="How many clips (rows)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Mosaic context | prediction | truth, one row per clip: still (.png) or animated (.gif, .mp4)."""
    from sciffusion.pipelines.video.mosaic import MosaicConfig, write_mosaic

    path = write_mosaic(MosaicConfig(pred=pred, truth=truth, out=out, clips=clips, overwrite=overwrite))
    typer.echo(f"wrote {path}")


@app.command("train")
@user_errors_exit
def train(
    config: Path = typer.Option(..., "--config", help="Config .yaml/.json, or a bundled name: cpu_smmnist, "
                                                      "cpu_smmnist_concat, cpu_driving, cpu_driving_moving, "
                                                      "cpu_driving_concat, gpu_smmnist, gpu_driving."),
    out: Path = typer.Option(..., "--out", help="RUN_DIR: last.ckpt, model.ckpt, curves.csv/png, config.json."),
    train_store: Optional[Path] = typer.Option(None, "--data", help="Training zarr store (overrides data.train)."),
    val_store: Optional[Path] = typer.Option(None, "--val", help="Validation zarr store (overrides data.val)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps in all (overrides the config)."),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Wall-clock budget of this run (overrides)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of init and per-step draws (overrides train.seed).",
                                       callback=check_seed),
    precision: Optional[str] = typer.Option(None, "--precision", help="Overrides schedule.precision. "
                                            + PRECISION_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue RUN_DIR/last.ckpt (fresh start if none)."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Model file (model.ckpt of a run, or a bundled "
                                             "domains/video/data/*.pt) whose weights start a fresh run: fine-tuning. "
                                             "Its model section must equal the config's."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto | cpu | gpu"),
    devices: str = typer.Option("auto", "--devices", help="auto or a device count."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the training steps."),
) -> None:
    """Train a video diffusion model (space-time U-Net or concat baseline) through DiffusionModule."""
    from sciffusion.pipelines.video.train import VideoTrainRunConfig, run_train
    from sciffusion.pipelines.video.train_config import load_train_config

    conf = load_train_config(config, train_store).with_overrides(val_store=val_store, max_steps=max_steps,
                                                                 minutes=minutes, seed=seed, precision=precision)
    result = run_train(VideoTrainRunConfig(out=out, config=conf, resume=resume, init_from=init_from, accelerator=accelerator,
                                           devices=devices, progress=progress),
                       note=lambda line: typer.echo(f"note: {line}", err=True))
    typer.echo(f"trained {result['steps']} steps (stopped by {result['stopped']}, {result['precision']}) in "
               f"{result['seconds']:.0f} s, "
               f"{result['parameters']:,} parameters, {result['train_clips']} train / {result['val_clips']} val clips; "
               f"wrote {out}/model.ckpt, last.ckpt, curves.csv, curves.png, config.json")


@app.command("train-guide")
@user_errors_exit
def train_guide(
    data: Path = typer.Option(..., "--data", help="Labelled driving zarr store (make-driving), the video model's "
                                                  "training store; its held-out episodes validate."),
    out: Path = typer.Option(..., "--out", help="RUN_DIR (new or empty): guide.pt, curves.csv/png, config.json."),
    model: Optional[Path] = typer.Option(None, "--model", help="Event video model whose blocks the guide reads "
                                         "(default: the bundled driving model)."),
    minutes: Optional[float] = typer.Option(20.0, "--minutes", help="Wall-clock budget."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps in all."),
    batch_size: int = typer.Option(32, "--batch-size", help="Windows per step."),
    lr: float = typer.Option(2e-3, "--lr", help="AdamW learning rate."),
    width: int = typer.Option(24, "--width", help="Channels of the first conv block (then 2x, 4x, 4x)."),
    sigma_min: float = typer.Option(0.01, "--sigma-min", help="Lowest training noise level (data units)."),
    sigma_max: float = typer.Option(10.0, "--sigma-max", help="Highest training noise level (log-uniform between)."),
    val_every: int = typer.Option(200, "--val-every", help="Optimizer steps between validations."),
    seed: int = seed_option(0, "Seed of init and per-step draws."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto | cpu | gpu"),
    devices: str = typer.Option("1", "--devices", help="auto or a device count."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the training steps."),
    precision: str = typer.Option("32-true", "--precision", help="32-true (the bundled guide's) or " + PRECISION_HELP),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from this guide.pt (train it longer, "
                                             "or on other data); its network, and so its width, is kept."),
) -> None:
    """Train the event guide of a driving model: a noise-conditional event classifier whose gradient steers
    `video generate --guide` towards the asked event (classifier guidance)."""
    from sciffusion.domains.video.model import resolve_model_path
    from sciffusion.pipelines.video.train_guide import GuideTrainConfig, run_train_guide

    result = run_train_guide(GuideTrainConfig(
        data=data, out=out, model=resolve_model_path(model, "driving"), minutes=minutes, max_steps=max_steps,
        batch_size=batch_size, lr=lr, width=width, sigma_min=sigma_min, sigma_max=sigma_max, val_every=val_every,
        seed=seed, accelerator=accelerator, devices=devices, progress=progress, init_from=init_from,
        precision=precision))
    typer.echo(f"trained {result['steps']} steps ({result['precision']}) in {result['seconds']:.0f} s, "
               f"{result['parameters']:,} parameters; "
               f"held-out loss {result['val_loss']:.3f}, accuracy {result['val_accuracy']:.3f}; wrote {out}/guide.pt, "
               f"curves.csv, curves.png, config.json")


def _sigma_interval(text: Optional[str], option: str) -> Optional[tuple[float, float]]:
    """``"LO,HI"`` → (LO, HI) in σ units (checked by SamplingConfig), None for None."""
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{option}: expected 'LO,HI' in sigma units, got {text!r}") from None
    return lo, hi


def _sampling_run(model: Optional[Path], sampler: Optional[str], steps: Optional[int], seed: int, device: str,
                  batch_size: int, guidance: float = 1.0, guidance_interval: Optional[str] = None,
                  init_sigma: Optional[float] = None, model_defaults: bool = False,
                  negative_event: Optional[str] = None, guide_scale: float = 0.0, guide_interval: Optional[str] = None):
    """The shared --model/--sampler/--steps/--seed/--device/--batch-size (and guidance) options as a SamplingRun.
    sampler/steps None: the SamplingConfig default; --init-sigma 0: no warm start. ``model_defaults``: the
    sampler, steps and warm start the user left unset may come from the model file (``SamplingRun.given``)."""
    from sciffusion.domains.video.sampling import SamplingConfig
    from sciffusion.pipelines.video.sampling_run import SamplingRun

    interval = _sigma_interval(guidance_interval, "--guidance-interval")
    guide_range = _sigma_interval(guide_interval, "--guide-interval")
    negative = None
    if negative_event is not None:
        from sciffusion.domains.video.events import event_index

        negative = event_index(negative_event, "--negative-event")
    options = {"sampler": sampler, "steps": steps, "init_sigma": init_sigma}
    given = frozenset(k for k, v in options.items() if v is not None) if model_defaults else None
    set_values = {k: v for k, v in options.items() if v is not None}
    if set_values.get("init_sigma") == 0:
        set_values["init_sigma"] = None  # given as "off": not replaced by the model's warm start
    return SamplingRun(model=model, sampling=SamplingConfig(guidance=guidance, guidance_interval=interval,
                                                            negative_event=negative, guide_scale=guide_scale,
                                                            guide_interval=guide_range, **set_values),
                       seed=seed, device=device, batch_size=batch_size, given=given)


def _context_notes(source: Optional[Path], notes: dict) -> None:
    """Before sampling: how the input frames were adapted, and the domain check's warning if it fired
    (``notes["unlike_training"]``); generate --context and predict."""
    if notes.get("adapted"):
        typer.echo(f"note: {notes['adapted']}", err=True)
    if notes.get("unlike_training"):
        typer.echo(f"warning: {source}: the model denoises these frames badly (error {notes['denoising_gain']:.2f} x "
                   "the noise at sigma 0.1; clips like its training data: below 0.1), so they look unlike what it "
                   "was trained on; expect poor results (pass --model for a model of this footage)", err=True)


def _predict_notes(source: Path, notes: dict) -> None:
    """Before sampling: which model predict took, how the input was adapted, the domain check, and the
    sampling settings taken from the model file."""
    if notes["bundled"]:
        typer.echo(f"note: no --model: using the bundled {Path(notes['model']).name} for {source}", err=True)
    if notes.get("clips_capped"):
        typer.echo(f"note: {notes['clips_capped']}", err=True)
    _context_notes(source, notes)
    if notes["sampling_from_model"]:
        taken = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in notes["sampling_from_model"].items())
        typer.echo(f"note: {taken} from {Path(notes['model']).name} (its recommended prediction settings; "
                   "give the option to override)", err=True)


MODEL_HELP = ("Model file (RUN_DIR/model.ckpt of 'video train'); default: a bundled model chosen by the input's "
              "colour (predict --input, generate --context): grey -> SM-MNIST (domains/video/data/"
              "video_smmnist_concat.pt), colour -> driving prediction (video_driving_predict.pt); generate --event: "
              "the driving event model (video_driving.pt); generate from nothing: SM-MNIST.")
INIT_SIGMA_HELP = ("Warm start (SDEdit): each block that continues known frames starts from the last known frame "
                   "noised to this sigma (data units) instead of pure noise; 0: off. A small sigma (0.1-0.5) keeps "
                   "objects where they were (close to copy-last); motion needs a large one or none.")
FROM_MODEL = ("default: the model file's recommendation (the bundled driving prediction model: dpmpp_2m, 10 steps, "
              "warm start 0.1, its measured settings), else {}.")
SAMPLER_HELP = "A core sampler (sciffusion bench samplers --help lists them): euler, heun, dpmpp_2m, ..."


@app.command("predict")
@user_errors_exit
def predict(
    input: Path = typer.Option(..., "--input", help="Clips to continue: a zarr dataset store (ours, or a plain 'video' [N, T, H, W, C] uint8 array), an .npz holding 'clips' uint8 [N, T, H, W(, C)], a video file, or a folder of frame images (10 fps). "
                                             "Frames of another size are centre-cropped and resized to the model's, colour made "
                                             "grey for a grey model, with a note (with --store only a store of the model's frames)."),
    out: Path = typer.Option(..., "--out", help="Output .mp4/.gif: context + prediction of the first clip."),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    context: int = typer.Option(10, "--context", help="Context frames K taken from each clip."),
    frames: int = typer.Option(10, "--frames", help="Frames N to predict (rolled out block by block)."),
    samples: int = typer.Option(1, "--samples", help="Samples per clip (best-of-k in evaluate)."),
    clips: Optional[int] = typer.Option(None, "--clips", help="Zarr or .npz input: the first N clips (default: all)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Also write a prediction store .zarr for evaluate."),
    compare: Optional[Path] = typer.Option(None, "--compare",
                                           help="Side-by-side context | prediction | truth (default OUT_compare)."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help=SAMPLER_HELP + " " + FROM_MODEL.format("dpmpp_2m")),
    steps: Optional[int] = typer.Option(None, "--steps", help="Sampler steps per block; " + FROM_MODEL.format("10")),
    init_sigma: Optional[float] = typer.Option(None, "--init-sigma", help=INIT_SIGMA_HELP + " " +
                                               FROM_MODEL.format("off")),
    seed: int = seed_option(0, "Seed of the sampling noise."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
    batch_size: int = typer.Option(16, "--batch-size", help="Clips per sampler call."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the predicted frames."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Predict the next frames of clips (MP4/GIF, side-by-side, optional zarr prediction store)."""
    from sciffusion.pipelines.video.predict import PredictConfig, predict as run

    cfg = PredictConfig(input=input, out=out, context=context, frames=frames, samples=samples, clips=clips,
                        store=store, compare=compare, overwrite=overwrite,
                        run=_sampling_run(model, sampler, steps, seed, device, batch_size, init_sigma=init_sigma,
                                          model_defaults=True))
    with progress_bar("predicted frames", None, enabled=progress) as advance:
        def checked(notes: dict) -> None:
            _predict_notes(input, notes)
            advance(0, total=notes["frames_total"])

        result = run(cfg, advance, checked=checked)
    typer.echo(f"predicted {result['frames']} frames x {result['samples']} sample(s) for {result['clips']} clip(s); "
               f"wrote {result['out']}, {result['compare']}" + (f", {result['store']}" if result["store"] else ""))


@app.command("generate")
@user_errors_exit
def generate(
    out: Path = typer.Option(..., "--out", help="Output folder (clips as MP4 + GIF, contact sheet, clips.zarr; with "
                             "--event the store's labels/event [N] and labels/asked_event [N, T]: the event each "
                             "frame was asked to show, 0 before the onset, -1 on real context frames)."),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    event: Optional[str] = typer.Option(None, "--event", help="normal | collision | cut-in | near-miss "
                                                              "(models trained with events)."),
    clips: int = typer.Option(4, "--clips", help="Number of clips."),
    frames: int = typer.Option(10, "--frames", help="Frames per clip."),
    guidance: float = typer.Option(8.0, "--guidance", help="Classifier-free guidance scale on --event (1 = none; unused without --event). "
                                   "8 by measurement: with CFG alone the bundled driving model's collisions 66 % "
                                   "(with --event-frame auto), cut-ins 38 % (128 clips each), 'normal' clips judged "
                                   "normal 89 %; with the bundled --guide on top 84 %, 86 %, 90 % (docs/video.md)."),
    guidance_interval: Optional[str] = typer.Option(None, "--guidance-interval",
                                                    help="LO,HI: guide only for LO <= sigma <= HI."),
    negative_event: Optional[str] = typer.Option(None, "--negative-event", help="Guide away from this event "
                                                 "(a negative prompt, e.g. normal) instead of from the unlabelled "
                                                 "model: D(neg) + w (D(event) - D(neg)). Default: plain CFG."),
    fps: float = typer.Option(10.0, "--fps", help="Frame rate of the written videos."),
    sampler: str = typer.Option("dpmpp_2m", "--sampler", help=SAMPLER_HELP),
    steps: int = typer.Option(10, "--steps", help="Sampler steps per block (the rare-event numbers in --guidance's "
                              "help were measured with 10)."),
    init_sigma: Optional[float] = typer.Option(None, "--init-sigma", help=INIT_SIGMA_HELP + " Default: off; never the first block."),
    seed: int = seed_option(0, "Seed of the sampling noise."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
    batch_size: int = typer.Option(16, "--batch-size", help="Clips per sampler call (one predict-loop batch)."),
    devices: int = typer.Option(1, "--devices", help="Devices of Lightning's predict loop (GPUs with --device cuda)."),
    num_nodes: int = typer.Option(1, "--num-nodes", help="Nodes of Lightning's predict loop (shared file system)."),
    context: Optional[Path] = typer.Option(None, "--context", help="Start from real footage: a zarr dataset store, an .npz of 'clips', "
                                           "a video file or a frame folder; clip i continues context clip i mod "
                                           "M (with --event, only clips with no labelled event). The clips then hold the context "
                                           "frames, then --frames generated ones."),
    context_frames: Optional[int] = typer.Option(None, "--context-frames", help="Real frames taken from each "
                                                 "context clip (default: the model's past block)."),
    event_frame: str = typer.Option("auto", "--event-frame", help="Generated frame F (0-based) around which "
                                    "--event begins: the model's blocks (of its T frames, 4 for the bundled driving "
                                    "model) before the one holding F are conditioned on normal, the rest on the "
                                    "event, so a clip shows normal driving, then the onset within that block (as "
                                    "the simulator labels a collision or cut-in). all: every block conditioned on "
                                    "the event. auto: the second block for collisions generated from nothing (on "
                                    "every block their clips mostly show the wreck from the first frame; judged "
                                    "collisions 64 % against 49 % of 96 clips), all otherwise (cut-ins: 30 % on "
                                    "every block, 15 % with the onset later)."),
    guide: str = typer.Option("auto", "--guide", help="Event guide (guide.pt of 'video train-guide'): a "
                              "noise-conditional event classifier whose gradient steers each block towards its "
                              "event on top of CFG (classifier guidance). auto: the bundled guide when --event is "
                              "asked of the bundled event model (judged cut-ins 86 % against 38 %, collisions 84 % "
                              "against 66 %, 128 clips; by a weight-free pixel rule 50 % against 34 % and 80 % "
                              "against 67 %; docs/video.md), else none; none: off."),
    guide_scale: Optional[float] = typer.Option(None, "--guide-scale", help="Strength of the --guide gradient "
                                                "(0 = off). Default: 10 with a guide (measured; 3 gives less, "
                                                "30 no more)."),
    guide_interval: Optional[str] = typer.Option(None, "--guide-interval", help="LO,HI: apply --guide only for "
                                                 "LO <= sigma <= HI (default: every level)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the generated frames."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Generate new clips, from nothing or continuing real footage, optionally of one driving event (CFG)."""
    from sciffusion.pipelines.video.generate import GenerateConfig, generate as run, resolve_guide

    guide_path, guide_scale = resolve_guide(guide, guide_scale, event, model)
    cfg = GenerateConfig(out=out, event=event, clips=clips, frames=frames, fps=fps, overwrite=overwrite,
                         devices=devices, num_nodes=num_nodes, context=context, context_frames=context_frames,
                         event_frame=int(event_frame) if event_frame.lstrip("-").isdigit() else event_frame,
                         guide=guide_path,
                         run=_sampling_run(model, sampler, steps, seed, device, batch_size, guidance,
                                           guidance_interval, init_sigma, negative_event=negative_event,
                                           guide_scale=guide_scale, guide_interval=guide_interval))
    with progress_bar("generated frames", clips * frames, enabled=progress) as advance:
        result = run(cfg, advance, checked=lambda notes: _context_notes(context, notes))
    typer.echo(f"generated {result['clips']} clip(s) of {result['frames']} frames"
               + (f" after {result['context_frames']} context frames" if result["context_frames"] else "")
               + (f" (event {result['event']}" + ("" if result["event_frame"] is None else
                                                    f", beginning in the block of generated frame {result['event_frame']}")
                  + ")" if result["event"] else "")
               + f"; wrote {out}/clip_*.mp4|gif, contact_sheet.png, clips.zarr, config.json")
