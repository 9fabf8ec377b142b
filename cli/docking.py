"""`sciffusion docking` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="docking commands.", no_args_is_help=True)
