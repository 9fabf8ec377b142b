"""`sciffusion demo` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="demo commands.", no_args_is_help=True)

from pathlib import Path
from typing import Optional

from sciffusion.cli.errors import user_errors_exit


@app.command("mnist")
@user_errors_exit
def mnist(
    out: Path = typer.Option(..., "--out", help="Output folder (must not exist unless --overwrite)."),
    minutes: float = typer.Option(4.0, "--minutes", help="Training wall-clock budget in minutes."),
    sampler: str = typer.Option("dpmpp_2m", "--sampler", help="Sampler name from the registry."),
    steps: int = typer.Option(20, "--steps", help="Sampler steps (Karras grid)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation, data order, noise and sampling."),
    samples: int = typer.Option(64, "--samples", help="Number of samples in samples.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    bpd_digits: int = typer.Option(200, "--bpd-digits", help="Held-out digits scored for bits/dim (0 = skip)."),
    inpaint_digits: int = typer.Option(16, "--inpaint-digits", help="Held-out digits completed from their top half in inpaint.png (0 = skip)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optional cap on optimizer steps."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the rich training progress bar."),
) -> None:
    """Train a small U-Net on bundled MNIST digits for a few CPU minutes, sample, inpaint, score bits/dim."""
    from sciffusion.pipelines.demo_mnist import MnistDemoConfig, run_mnist_demo

    config = MnistDemoConfig(out=out, minutes=minutes, sampler=sampler, steps=steps, seed=seed, samples=samples,
                             overwrite=overwrite, bpd_digits=bpd_digits, inpaint_digits=inpaint_digits, max_steps=max_steps, progress=progress)
    metrics = run_mnist_demo(config)
    line = f"trained {metrics['train_steps']} steps in {metrics['train_seconds']:.0f} s"
    if "bpd" in metrics:
        b = metrics["bpd"]
        line += f"; held-out bits/dim {b['mean']:.3f} ± {b['stderr'] or 0:.3f} on {b['digits']} digits"
    if "inpaint" in metrics:
        p = metrics["inpaint"]
        line += (f"; inpainting MSE (bottom half) replacement {p['replace']['mse_unknown']:.3f}, "
                 f"posterior {p['posterior']['mse_unknown']:.3f}")
    typer.echo(line)
    typer.echo(f"wrote {out}/samples.png, loss.png, inpaint.png, model.ckpt, config.json, metrics.json")
