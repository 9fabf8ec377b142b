"""Reading ``.npz`` archives with one-line errors: a cut, corrupt or non-archive file names itself."""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

T = TypeVar("T")

_BROKEN_ARCHIVE = (OSError, EOFError, zipfile.BadZipFile, zlib.error)  # a cut or corrupt .npz


def read_npz(path: Path | str, read: Callable[[Any], T]) -> T:
    """``read(archive)`` on the opened ``.npz`` at ``path``; a cut or corrupt archive (at open or inside an
    array) is a one-line ``ValueError`` naming the file, not a traceback."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (*_BROKEN_ARCHIVE, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({type(exc).__name__})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a bare .npy renamed .npz
        raise ValueError(f"{path}: not a readable .npz file (a single array, not an archive)")
    try:
        with archive:
            return read(archive)
    except _BROKEN_ARCHIVE as exc:  # an array inside the archive is cut or corrupt
        raise ValueError(f"{path}: not a readable .npz file ({type(exc).__name__})") from None
    except ValueError as exc:  # numpy's own (an object array, a bad header) does not name the file
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: {exc}") from None


__all__ = ["read_npz"]
