"""`sciffusion demo` commands."""
from __future__ import annotations

from pathlib import Path

import typer

from sciffusion.cli.errors import user_errors_exit
from sciffusion.cli.options import seed_option

app = typer.Typer(help="Quick start: train a small diffusion model on bundled MNIST digits on the CPU, then "
                       "sample, inpaint and score held-out bits/dim.", no_args_is_help=True)


def summary_lines(metrics: dict, out: Path) -> list[str]:
    """What the run did (steps, the bound that stopped training, scores) and the files it wrote, as
    listed in ``out`` (so the list is exactly what is there)."""
    steps, budget = metrics["train_steps"], metrics["train_steps_budget"]
    if metrics["stopped_by"] == "time":
        line = (f"trained {steps} of {budget} steps in {metrics['train_seconds']:.0f} s: stopped by the "
                f"{metrics['train_minutes_cap']:g}-minute cap (--minutes), so the model is undertrained")
    else:
        line = f"trained {steps} steps (--train-steps) in {metrics['train_seconds']:.0f} s"
    if "bpd" in metrics:
        b = metrics["bpd"]
        line += f"; held-out bits/dim {b['mean']:.3f} ± {b['stderr'] or 0:.3f} on {b['digits']} digits"
    if "inpaint" in metrics:
        p = metrics["inpaint"]
        line += (f"; inpainting MSE (bottom half) replacement {p['replace']['mse_unknown']:.3f}, "
                 f"posterior {p['posterior']['mse_unknown']:.3f}")
    written = sorted(p.name for p in Path(out).iterdir())
    return [line, f"wrote {out}/{', '.join(written)}"]


@app.command("mnist")
@user_errors_exit
def mnist(
    out: Path = typer.Option(..., "--out", help="Output folder (must not exist unless --overwrite)."),
    train_steps: int = typer.Option(1300, "--train-steps",
                                    help="Optimizer steps to train (about 4 minutes on an idle 2-core CPU)."),
    minutes: float = typer.Option(20.0, "--minutes",
                                  help="Wall-clock cap on training in minutes; stops earlier if reached first "
                                       "(the output says which bound stopped it)."),
    sampler: str = typer.Option("dpmpp_2m", "--sampler", help="Sampler name from the registry."),
    steps: int = typer.Option(20, "--steps", help="Sampler steps (Karras grid)."),
    seed: int = seed_option(0, "Seed for initialisation, data order, noise and sampling."),
    samples: int = typer.Option(64, "--samples", help="Number of samples in samples.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    bpd_digits: int = typer.Option(200, "--bpd-digits", help="Held-out digits scored for bits/dim (0 = skip)."),
    inpaint_digits: int = typer.Option(16, "--inpaint-digits",
                                       help="Held-out digits completed from their top half in inpaint.png (0 = skip)."),
    progress: bool = typer.Option(True, "--progress/--no-progress",
                                  help="Show progress bars for training, sampling, inpainting and bits/dim."),
) -> None:
    """Train a small U-Net on bundled MNIST digits for a fixed number of steps, sample, inpaint, score bits/dim."""
    from sciffusion.pipelines.demo_mnist import MnistDemoConfig, run_mnist_demo

    config = MnistDemoConfig(out=out, train_steps=train_steps, minutes=minutes, sampler=sampler, steps=steps,
                             seed=seed, samples=samples, overwrite=overwrite, bpd_digits=bpd_digits,
                             inpaint_digits=inpaint_digits, progress=progress)
    metrics = run_mnist_demo(config)
    for line in summary_lines(metrics, out):
        typer.echo(line)
