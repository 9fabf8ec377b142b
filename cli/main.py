"""Root of the ``sciffusion`` command: one Typer app with a sub-command group per area.

Each group lives in its own module (``cli/bench.py``, ``cli/docking.py``, ``cli/video.py``,
``cli/demo.py``). Command modules import nothing heavy at module level: the pipeline they call is
imported inside the command, so ``sciffusion --help`` stays fast.
"""
from __future__ import annotations

import warnings

import rich
import typer

from sciffusion.cli import bench, demo, dock, docking, video
from sciffusion.cli import ood

# pytorch_lightning 2.6 warns about its own use of torch's pytree API on every import; not the user's concern
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
# progress bars and their remnants go to stderr (rich's default console is stdout): stdout holds results only
rich.reconfigure(stderr=True)

app = typer.Typer(
    name="sciffusion",
    help="Scientific diffusion models: core samplers, DiffDock-style docking, video diffusion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("dock")(dock.dock)
app.add_typer(demo.app, name="demo")
app.add_typer(bench.app, name="bench")
app.add_typer(docking.app, name="docking")
app.add_typer(video.app, name="video")
app.add_typer(ood.app, name="ood")


@app.command()
def version() -> None:
    """Print the sciffusion version."""
    from sciffusion import __version__

    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
