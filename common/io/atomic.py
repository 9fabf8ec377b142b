"""Atomic output: write to a temporary sibling, then rename into place.

A crash or a bad input midway leaves no partial file or folder that looks complete, and an
existing path the user gave us is never overwritten unless they asked for it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def refuse_existing(path: Path, overwrite: bool = False, what: str = "output") -> None:
    """Raise ``FileExistsError`` if ``path`` exists and ``overwrite`` is False."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: {what} already exists (pass --overwrite to replace it)")


@contextlib.contextmanager
def atomic_path(path: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    Works for files and folders (e.g. a zarr store). On an exception the temporary is removed
    and ``path`` is left untouched.
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if not target.exists():
            raise RuntimeError(f"{path}: nothing was written")
        if path.exists():  # overwrite requested
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: Path | str, text: str, overwrite: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically (overwrites our own derived outputs by default)."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)
    return Path(path)
