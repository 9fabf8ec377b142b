"""Options shared by several commands, each checked once here.

``seed_option()`` gives every command the same ``--seed`` with the same range check, so a seed that
numpy, torch or Vina cannot take is a one-line error naming ``--seed``, never an overflow traceback
from deep inside a run.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

import typer

SEED_MAX = 2**32 - 1  # numpy's SeedSequence-free legacy seeding and Vina take unsigned 32-bit seeds


def check_seed(value: int | None) -> int | None:
    """Option callback: ``error: --seed: ...`` and exit 2 unless ``0 <= value <= 2**32 - 1`` (None passes).

    It runs while the options are parsed, before the command does any work.
    """
    if value is not None and not 0 <= value <= SEED_MAX:
        typer.echo(f"error: --seed: must be an integer in [0, {SEED_MAX}], got {value}", err=True)
        raise typer.Exit(code=2)
    return value


def seed_option(default: int = 0, help: str = "Random seed.") -> int:
    """A ``--seed`` option with the shared range check."""
    return typer.Option(default, "--seed", help=f"{help} Integer in [0, 2^32 - 1].", callback=check_seed)


def seed_list(text: str, flag: str = "--seeds") -> tuple[int, ...]:
    """``"0,1,2"`` → ``(0, 1, 2)``: distinct seeds, each in [0, 2**32 − 1]; one-line ValueError naming
    ``flag`` otherwise."""
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{flag}: expected a comma list of integers, got {text!r}") from None
    if not seeds or any(not 0 <= s <= SEED_MAX for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"{flag}: need distinct integers in [0, {SEED_MAX}], got {text!r}")
    return seeds


SCORE_HELP = ("auto | features | predictive | pixels | statistics | msma | recon | nll | complexity | path | "
              "combined, or kinds joined by + (auto: the features+predictive+pixels+statistics ensemble for clips, "
              "features for images and vectors; features: kNN on the denoiser's bottleneck activations, "
              "whole input and per patch, vs banks of normal inputs; predictive, clips only: error of a denoiser "
              "that predicts each frame from the ones before, against repeating the last frame; pixels: no network, "
              "each place's own pixels and their change vs Gaussians of the normal ones at that place, for a fixed "
              "camera; statistics: no network, the whole input's mean and spread of intensity and of change "
              "between frames vs one Gaussian of the normal ones: content missing or added, brighter, frozen). "
              "Several kinds joined by + (e.g. features+predictive) make an ensemble: one network per kind (none "
              "for pixels and statistics), each trained for an equal share of --minutes and --max-steps, its "
              "scores z-scored on the held-out normal inputs and combined by --density (default softmax, a smooth "
              "max), one threshold.")
POSITIONS_HELP = ("features: also score each position of the first encoder level against Gaussians of the normal "
                  "inputs at that position (PaDiM-style; for inputs with a fixed layout: a camera that follows a "
                  "car, a fixed camera); same model calls; default on for clips, off for images and vectors.")
PIXELS_HELP = ("features: also score each place's own pixels (its 3x3 neighbourhood and, for clips, its change "
               "since the frame before) against Gaussians of the normal inputs at that place (PaDiM on pixels, no "
               "model call; for a fixed layout: a fixed camera, one that follows a car); default on for clips, off for "
               "images and vectors.")
WHOLE_INPUT_HELP = ("features: also score each input's distance to its nearest normal inputs as a whole (the "
                    "bottleneck embedding); --no-whole-input scores only the patches / positions; default on for "
                    "images and vectors, off for clips with position Gaussians (measured on driving: +0.03 AUROC "
                    "without at 10 minutes, no change on SM-MNIST; for long fits try --whole-input).")
DENSITY_HELP = ("Density on the z-scored features: gmm | kde | knn | mean | max | softmax (max: the most anomalous "
                "feature decides; softmax: log-sum-exp of the z-scores, a smooth max); default mean for features "
                "and predictive, gmm otherwise; for an ensemble (a+b), the combination of its members' scores, "
                "default softmax (since session 40; max before: +0.025 / +0.013 AUROC on driving (two seeds), "
                "+0.009 on unseen digits, -0.0002 on impossible motion, docs/ood.md twenty-fifth round). mean, max "
                "and softmax are one-sided: a member that scores an input as more normal than normal never flags "
                "it; the statistics member (in auto for "
                "clips) is what sees inputs with less of what normal inputs have (a missing object: 0.77, "
                "docs/ood.md twenty-second round); gmm, kde and knn are two-sided over the members, at a cost "
                "where anomalies only add (twenty-first round).")

PRECISION_HELP = ("Training precision: auto | 32-true | bf16-mixed | 16-mixed (Lightning's). auto: bf16-mixed on a "
                  "CPU with bf16 instructions (avx512_bf16/amx_bf16; about 1.7x the steps per minute) and on a "
                  "bf16-capable GPU, 32-true elsewhere. Weights, optimizer and EMA stay float32; inference is float32.")
TARGET_FRAMES_HELP = ("predictive (clips): frames it predicts per window (NFE = levels x windows, about T - context "
                      "for one frame); 0: the fewest that keep the predictive score within 8 model calls (1 up to "
                      "context + 8 frames, 2 up to context + 16), which scored long clips lower (docs/ood.md).")


@contextlib.contextmanager
def progress_bar(description: str, total: Optional[int], enabled: bool = True) -> Iterator[Callable[..., None]]:
    """A rich progress bar (removed when done; nothing shown when not ``enabled``); yields ``advance(n=1,
    total=None)``: a ``total`` sets the bar's total once it is known (``advance(0, total=N)``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True, disable=not enabled) as bar:
        task = bar.add_task(description, total=total)
        def advance(n: int = 1, total: Optional[int] = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            bar.advance(task, n)

        yield advance
