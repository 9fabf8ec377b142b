"""`sciffusion video` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="video commands.", no_args_is_help=True)
