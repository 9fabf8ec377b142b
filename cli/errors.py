"""One place that turns user-input errors into a one-line message and a non-zero exit."""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., object])

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
               PermissionError, EOFError)  # EOFError: a cut gzip or pickle stream a reader missed


def user_errors_exit(fn: F) -> F:
    """Decorator for CLI commands: ``ValueError``/``FileNotFoundError``/... become
    ``error: <message>`` on stderr and exit code 2; Ctrl-C becomes ``interrupted[: <message>]`` and exit
    code 130 (the shell's); anything else propagates (a bug, with traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as exc:  # Ctrl-C: one line (what was kept, when the command says), exit 130
            typer.echo(f"interrupted{': ' + str(exc) if str(exc) else ''}", err=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]
