"""Where a command may write, checked before any work: never onto an input, over a folder holding one,
or inside one; never two outputs on one path; an existing output is replaced only with ``overwrite``
and only by the same kind of thing (a file by a file, a folder by a folder).

``--overwrite`` replaces an output whole (:func:`~sciffusion.common.io.atomic.atomic_path`), so an
output that is an input, or a folder holding one, would delete what the user gave us.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from sciffusion.common.io.atomic import refuse_existing

NAME_MAX = 255
"""Longest file or folder name, in bytes, that common file systems take (ext4, XFS, APFS, NTFS)."""

Inputs = Union[Mapping[str, Optional[Path]], Iterable[Optional[Path]]]


def resolved(path: Path | str) -> Path:
    """``path`` made absolute with symlinks followed; a symlink loop is a one-line ``ValueError``."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as exc:  # Python raises RuntimeError for a symlink loop
        raise ValueError(f"{path}: cannot resolve the path ({exc})") from None


def _relation(target: Path, source: Path) -> str:
    if target == source:
        return "is"
    if source.is_relative_to(target):
        return "holds"
    return "lies inside" if target.is_relative_to(source) else ""


def refuse_over_inputs(option: str, path: Path | str, inputs: Inputs) -> None:
    """``ValueError`` when output ``path`` (given as ``option``) names no new path (``""``, ``.``,
    ``..``) or is, holds or lies inside one of ``inputs`` ({option: path} or paths; None: not given)."""
    if Path(path).name in ("", ".", ".."):
        raise ValueError(f"{option}: {str(path)!r} names no new file or folder (give a path such as runs/out1)")
    if any(len(part.encode()) > NAME_MAX for part in Path(path).parts):
        raise ValueError(f"{option}: {str(path)[:60]}...: a file or folder name longer than {NAME_MAX} bytes")
    named = inputs.items() if isinstance(inputs, Mapping) else (("", p) for p in inputs)
    target = resolved(path)
    for name, source in named:
        if source is None:
            continue
        relation = _relation(target, resolved(source))
        if relation:
            label = f"the {name} input" if name else "the input"
            raise ValueError(f"{option}: {path} {relation} {label} {source}; writing there would replace it "
                             "(choose another path)")


def refuse_unwritable(option: str, path: Path | str, folder: Path) -> None:
    """``PermissionError`` naming ``option`` when nothing can be created in ``folder`` (the nearest existing
    folder above output ``path``): found by making and removing an empty temporary folder there, which also
    catches read-only file systems and root on /sys, where permission bits say nothing. Before any work,
    so a long run does not end on an error about a temporary file."""
    import tempfile

    try:
        probe = tempfile.mkdtemp(prefix=".sciffusion-probe-", dir=folder)
    except OSError as exc:
        raise PermissionError(f"{option}: {path}: cannot write in {folder} ({exc.strerror or exc})") from None
    Path(probe).rmdir()


def check_outputs(outputs: Sequence[tuple[str, Path, bool]], inputs: Inputs, overwrite: bool = False) -> None:
    """outputs: (option, path, is_folder) per output; inputs: what the command reads (module docstring).

    Raises ``ValueError`` (:func:`refuse_over_inputs`; two outputs overlap; an existing file where a
    folder goes or the reverse), ``NotADirectoryError`` (a parent is a file), ``PermissionError`` (nothing
    can be written there, :func:`refuse_unwritable`) or ``FileExistsError`` (exists, no ``overwrite``),
    one line naming the option and the path."""
    seen: list[tuple[str, Path]] = []
    for option, path, is_folder in outputs:
        refuse_over_inputs(option, path, inputs)
        target = resolved(path)
        for other, earlier in seen:
            if _relation(target, earlier):
                raise ValueError(f"{option}: {path} is or overlaps {other} {earlier}; give each output its own path")
        seen.append((option, target))
        folder = next(p for p in target.parents if p.exists())  # the root always exists
        if not folder.is_dir():
            raise NotADirectoryError(f"{option}: {path}: {folder} is a file, not a folder")
        refuse_unwritable(option, path, folder)
        refuse_existing(Path(path), overwrite, "output")
        if Path(path).exists() and Path(path).is_dir() != is_folder:
            raise ValueError(f"{option}: {path} is an existing {'file' if is_folder else 'folder'}; this output is a "
                             f"{'folder' if is_folder else 'file'} (remove it or choose another path)")


__all__ = ["check_outputs", "refuse_over_inputs", "refuse_unwritable", "resolved"]
