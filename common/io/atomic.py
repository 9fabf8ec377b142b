"""Atomic output: write to a temporary sibling, then rename into place.

A crash or a bad input midway leaves no partial file or folder that looks complete, and an
existing path the user gave us is never overwritten unless they asked for it.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def refuse_existing(path: Path, overwrite: bool = False, what: str = "output") -> None:
    """Raise ``FileExistsError`` if ``path`` exists and ``overwrite`` is False."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: {what} already exists (pass --overwrite to replace it)")


def _pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: Path | str) -> list[Path]:
    """Remove the temporaries that killed runs left beside ``path``; returns what was removed.

    :func:`atomic_path` names its temporary ``.<name>.<pid>.<random>.tmp``. A run killed by SIGKILL
    never reaches its clean-up, so the next run for the same output removes every such sibling
    whose process no longer exists (a concurrent run's temporary is left alone).
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[^/]*\.tmp$")
    removed = []
    for sibling in path.parent.iterdir():
        match = pattern.match(sibling.name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            if sibling.is_dir() and not sibling.is_symlink():
                shutil.rmtree(sibling, ignore_errors=True)
            else:
                sibling.unlink(missing_ok=True)
            removed.append(sibling)
    return removed


@contextlib.contextmanager
def atomic_path(path: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    Works for files and folders (e.g. a zarr store). On an exception the temporary is removed
    and ``path`` is left untouched; temporaries of earlier killed runs are removed first
    (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
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
