"""`sciffusion ood` commands: fit a diffusion anomaly detector on normal data, score inputs, evaluate scores.

Each command parses its options, builds a typed config and calls one function of
``sciffusion.pipelines.ood``; heavy imports happen inside the commands.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sciffusion.cli.errors import user_errors_exit
from sciffusion.cli.options import (DENSITY_HELP, PIXELS_HELP, POSITIONS_HELP, PRECISION_HELP, SCORE_HELP,
                                    TARGET_FRAMES_HELP, WHOLE_INPUT_HELP, seed_option)

app = typer.Typer(help="Anomaly / out-of-distribution detection with diffusion models: fit on normal data, "
                       "score, evaluate.", no_args_is_help=True)

DATA_HELP = ("a video zarr store (video uint8 [N, T, H, W, C], labels/), an .npz with 'images' uint8 "
             "[N, H, W(, C)] or 'clips' uint8 [N, T, H, W(, C)] (optional 'label', 'frame_label', 'mask', 'id'), "
             "or a folder of images or of image subfolders (MVTec AD layout: good/ normal, any other subfolder "
             "anomalous, masks from ../ground_truth/<subfolder>/<stem>_mask.png), or footage: a video file, a folder "
             "of frames, or a folder of videos and/or frame folders (UCSD Ped, Avenue; 'ood fit --clip-frames' cuts "
             "it into clips, 'ood score' into the detector's; masks from <name>_gt folders beside the sources)")
FIT_MODE_HELP = "Footage frames to squares: crop (centre square, no distortion) or stretch (whole frame)."


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class _LazyBar:
    """A rich bar opened at its first update (after Lightning's training bar has closed); ``close()`` ends it."""

    def __init__(self, description: str) -> None:
        self.description, self.bar, self.task = description, None, None

    def __call__(self, n: int, total: Optional[int] = None) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@app.command("fit")
@user_errors_exit
def fit(
    data: Path = typer.Option(..., "--data", help=f"Normal training data: {DATA_HELP}. Inputs labelled 1 are left out."),
    out: Path = typer.Option(..., "--out", help="Detector folder to write (detector.pt, config.json, fit.json)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Fine-tune from this checkpoint: a detector.pt, a "
                                         "DiffusionModule Lightning checkpoint with config.json ('net') beside it, or a "
                                         "video model file ('video train' model.ckpt, e.g. domains/video/data/"
                                         "video_driving.pt) as the predictive score's network (its past and "
                                         "current frames become --context-frames and --target-frames) and, for a "
                                         "space-time model, the features score's network (per-frame positions)."),
    minutes: float = typer.Option(5.0, "--minutes", help="Wall-clock training budget, minutes."),
    max_steps: int = typer.Option(2000, "--max-steps", help="Training step cap."),
    score: str = typer.Option("auto", "--score", help=SCORE_HELP),
    levels: Optional[int] = typer.Option(None, "--levels", help="Noise levels (NFE = levels; predictive: levels x windows); default 2 for features, 1 for predictive, 10 otherwise."),
    sigma_min: Optional[float] = typer.Option(None, "--sigma-min", help="Lowest noise level, data units ([-1, 1] pixels); default 0.3 for features, 2 for predictive, 0.01 otherwise."),
    sigma_max: Optional[float] = typer.Option(None, "--sigma-max", help="Highest noise level, data units; default 0.6 for features, 8 for predictive (unused at 1 level), 1 otherwise."),
    density: Optional[str] = typer.Option(None, "--density", help=DENSITY_HELP),
    patch_bank: Optional[int] = typer.Option(None, "--patch-bank", help="features: normal patches kept for the per-patch distances; 0: whole-input distances only; default 16384 for images, 0 for clips and vectors."),
    positions: Optional[bool] = typer.Option(None, "--positions/--no-positions", help=POSITIONS_HELP),
    whole_input: Optional[bool] = typer.Option(None, "--whole-input/--no-whole-input", help=WHOLE_INPUT_HELP),
    pixels: Optional[bool] = typer.Option(None, "--pixels/--no-pixels", help=PIXELS_HELP),
    context_frames: int = typer.Option(3, "--context-frames", help="predictive (clips): frames given to the context denoiser."),
    target_frames: int = typer.Option(1, "--target-frames", min=0, help=TARGET_FRAMES_HELP),
    threshold: str = typer.Option("quantile", "--threshold", help="quantile | f1 (needs --val-data) | manual."),
    manual_threshold: Optional[float] = typer.Option(None, "--manual-threshold", help="Threshold for --threshold manual."),
    contamination: float = typer.Option(0.1, "--contamination", help="Expected anomaly fraction, (0, 0.5]."),
    holdout: float = typer.Option(0.2, "--holdout", help="Fraction of the data kept out of training to calibrate on."),
    batch_size: int = typer.Option(64, "--batch-size", help="Training batch size."),
    precision: str = typer.Option("auto", "--precision", help=PRECISION_HELP),
    base_channels: int = typer.Option(32, "--base-channels", help="U-Net width (multiple of 8)."),
    max_side: int = typer.Option(64, "--max-side", min=0, help="The network works on images and clips whose larger "
                                 "side is at most this many px: larger inputs are area-averaged to it (aspect kept) "
                                 "and maps come back at the inputs' size; a 128 px U-Net step costs about 4x a 64 "
                                 "px one. 0: always full size."),
    image_size: Optional[int] = typer.Option(None, "--image-size", help="Images read from a folder are resized to "
                                             "this H = W in px (bilinear; masks nearest); default: keep their size, "
                                             "which must then be one. 'ood score' brings folder images to the "
                                             "detector's size itself."),
    clip_frames: Optional[int] = typer.Option(None, "--clip-frames", help="Footage only (video files, frame folders): "
                                              "frames per clip; the sources are cut into clips of this length "
                                              "at their own frame rate, --image-size px square (default 64)."),
    clip_stride: Optional[int] = typer.Option(None, "--clip-stride", help="Footage: frames between clip starts "
                                              "(default --clip-frames, no overlap; smaller gives more clips)."),
    frame_fit: str = typer.Option("crop", "--fit", help=FIT_MODE_HELP),
    channels: Optional[int] = typer.Option(None, "--channels", help="Footage: 1 (grey) or 3 (RGB); default grey when "
                                           "every source is a folder of grey frames, else RGB."),
    val_data: Optional[Path] = typer.Option(None, "--val-data", help="Labelled validation data for --threshold f1."),
    label_names: str = typer.Option("", "--label-names", help="Store label arrays that mark anomalies (comma list; "
                                    "default: 'label', else ego_collision,other_collision,near_miss)."),
    trust_checkpoint: bool = typer.Option(False, "--trust-checkpoint", help="Load --model with full pickle."),
    seed: int = seed_option(0, "Seed of the split, the training draws and the scores."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Train (or fine-tune) a diffusion model on normal data, calibrate on a held-out part, save the detector."""
    from sciffusion.pipelines.ood.fit import AUTO_CLIP_SCORE, AUTO_SCORE, OODFitConfig, detector_settings, fit_ood

    def settings(kind: str):
        return detector_settings(kind, levels, sigma_min, sigma_max, density, threshold, contamination,
                               manual_threshold, minutes, max_steps, batch_size, holdout, seed, patch_bank,
                               context_frames, target_frames or None, positions, whole_input, max_side, pixels,
                               precision)

    auto, clips, clips_error = score == AUTO_SCORE, None, None
    if auto:  # the clip settings are checked only if the data turn out to be clips
        try:
            clips = settings(AUTO_CLIP_SCORE)
        except ValueError as exc:
            clips_error = f"{exc} (--score auto on clips)"
    cfg = OODFitConfig(data=data, out=out, model=model, base_channels=base_channels, val_data=val_data,
                       label_names=_names(label_names), trust_checkpoint=trust_checkpoint, overwrite=overwrite,
                       detector=settings("features" if auto else score), clip_detector=clips,
                       clip_detector_error=clips_error, image_size=image_size, clip_frames=clip_frames,
                       clip_stride=clip_stride, frame_fit=frame_fit, channels=channels)
    scoring, reading = _LazyBar("scoring (calibration)"), _LazyBar("reading footage (frames)")
    try:
        report = fit_ood(cfg, progress=True, on_score_batch=scoring, on_frames=reading, on_read=reading.close)
    finally:
        reading.close()
        scoring.close()
    train = report["train"]
    _warn_skipped(report["skipped_sources"], cfg.data, "fitted on")
    reasons, members = str(train["stopped_by"]).split("+"), str(report["score"]).split("+")
    stopped = reasons[0] if len(set(reasons)) == 1 else ", ".join(  # an ensemble: one reason per member
        f"{m} {r}" for m, r in zip(members, reasons)) if len(reasons) == len(members) else train["stopped_by"]
    fitted = f"no network, fitted in {train['seconds']:.0f} s" if stopped == "no training" else \
        f"{train['steps']} steps in {train['seconds']:.0f} s (stopped by {stopped}" + \
        (f", {train['precision']})" if train.get("precision") else ")")
    typer.echo(f"wrote {out}: {report['inputs']} normal inputs {report['input_shape']}, {fitted}, {report['score']} score, "
               f"NFE {report['nfe_per_input']}/input, threshold {report['threshold']:.4g} ({report['threshold_rule']})")


def _warn_skipped(skipped: list[str], data: Path, done: str) -> None:
    """One warning line on stderr naming the footage sources too short for one clip (left out)."""
    if skipped:
        names = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        typer.echo(f"warning: {data}: {len(skipped)} source(s) shorter than one clip not {done}: {names}", err=True)


@app.command("score")
@user_errors_exit
def score(
    detector: Path = typer.Option(..., "--detector", help="Detector folder from 'ood fit' (or its detector.pt)."),
    data: Path = typer.Option(..., "--data", help=f"Inputs to score: {DATA_HELP}."),
    out: Path = typer.Option(..., "--out", help="Scores table: .csv or .parquet (id, score, score_normalised, "
                             "label_pred, features)."),
    maps: Optional[Path] = typer.Option(None, "--maps", help="Folder for dense maps: maps.npz and PNG overlays."),
    overlays: int = typer.Option(32, "--overlays", help="PNG overlays to draw (the first N inputs)."),
    label_names: str = typer.Option("", "--label-names", help="Store label arrays that mark anomalies (comma list)."),
    clip_stride: Optional[int] = typer.Option(None, "--clip-stride", help="Footage: frames between clip starts "
                                              "(default: the fit's, else the clip length); a last clip always "
                                              "ends on a source's last frame. With --maps, frames.csv scores "
                                              "every source frame."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Score inputs with a fitted detector: one row per input (higher = more anomalous), optional maps."""
    from sciffusion.pipelines.ood.score import OODScoreConfig, score_ood

    cfg = OODScoreConfig(detector=detector, data=data, out=out, maps=maps, overlays=overlays,
                         label_names=_names(label_names), overwrite=overwrite, clip_stride=clip_stride)
    reading, scoring, total = _LazyBar("reading footage (frames)"), _LazyBar("scoring"), []
    try:
        summary = score_ood(cfg, on_batch=lambda n: scoring(n, total[0]),
                            on_start=lambda n: (reading.close(), total.append(n)), on_frames=reading)
    finally:
        reading.close()
        scoring.close()
    _warn_skipped(summary["skipped_sources"], data, "scored")
    typer.echo(f"wrote {out}: {summary['inputs']} inputs, {summary['flagged']} flagged, NFE "
               f"{summary['nfe_per_input']}/input, {summary['seconds_per_1000_inputs']:.1f} s per 1,000 inputs"
               + (f"; maps in {maps}" if maps is not None else ""))


@app.command("evaluate")
@user_errors_exit
def evaluate(
    scores: Path = typer.Option(..., "--scores", help="Scores table from 'ood score' (.csv or .parquet)."),
    labels: Path = typer.Option(..., "--labels", help="labels.csv (id,label), or the scored data with labels (an .npz, a store, an image folder with anomaly subfolders, or footage with its ground truth: UCSD Ped, ShanghaiTech, Avenue layouts)."),
    out: Path = typer.Option(..., "--out", help="Report folder: metrics.json, metrics.md, ROC/PR plots, histogram."),
    maps: Optional[Path] = typer.Option(None, "--maps", help="Maps folder from 'ood score --maps' for frame / pixel "
                                        "AUROC (needs --labels to be the data with frame labels or masks)."),
    label_names: str = typer.Option("", "--label-names", help="Store label arrays that mark anomalies (comma list)."),
    truth: list[Path] = typer.Option([], "--truth", help="Footage given as --labels: a folder with its ground truth "
                                     "(<name>.npy frame labels [T] or masks [T,H,W], <n>_label.mat with volLabel, "
                                     "<name>_gt/ mask folders, UCSDpedN.m, or the subfolders test_frame_mask, "
                                     "test_pixel_mask, testing_label_mask); searched before the places beside the "
                                     "footage. Repeatable."),
    smooth_frames: float = typer.Option(0.0, "--smooth-frames", help="Footage with --maps: σ in frames of a "
                                        "Gaussian that smooths frame scores in time within each source before the "
                                        "frame AUROC (common in video anomaly papers; 0: none)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never an input)."),
) -> None:
    """Metrics on raw scores (AUROC, AUPR-in/out, FPR@95TPR, F1-max; frame/pixel AUROC), plots, metrics.json."""
    from sciffusion.pipelines.ood.evaluate import OODEvaluateConfig, evaluate_ood

    cfg = OODEvaluateConfig(scores=scores, labels=labels, out=out, maps=maps, label_names=_names(label_names),
                            overwrite=overwrite, truth=tuple(truth), smooth_frames=smooth_frames)
    result = evaluate_ood(cfg)
    if result.get("maps_note"):
        typer.echo(f"note: {result['maps_note']}", err=True)
    extra = "".join(f", {k} {result[k]:.4f}" for k in ("frame_auroc", "frame_auroc_per_source", "pixel_auroc")
                    if result.get(k) is not None)
    typer.echo(f"wrote {out}: AUROC {result['auroc']:.4f}, AUPR-in {result['aupr_in']:.4f}, AUPR-out "
               f"{result['aupr_out']:.4f}, FPR@95TPR {result['fpr_at_95_tpr']:.4f}, F1-max {result['f1_max']:.4f}"
               f"{extra} ({result['n_normal']} normal, {result['n_anomaly']} anomalous)")
