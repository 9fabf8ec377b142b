"""The one way the toolkit reads a checkpoint: weights-only unless the user says they trust the file.

``torch.load(weights_only=False)`` runs pickle, and a pickle can call any function while it loads (a
``--model CKPT`` from elsewhere could delete files). :func:`load_checkpoint` loads with
``weights_only=True``: tensors, containers, numbers, strings and the globals torch allows by default,
plus the types a caller names in ``allowed_globals`` (scoped to this call, never process-wide).
Lightning checkpoints of :class:`~sciffusion.common.training.DiffusionModule` need nothing more (the
config is stored as a plain dict). A file that needs more is refused with one line naming the file and
the globals it wants; ``trust=True`` (the CLI's ``--trust-checkpoint``) loads it with full pickle.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

TRUST_HINT = "pass --trust-checkpoint if you trust its source"

# What torch raises for a file that is not a checkpoint, or a truncated or corrupt one.
_UNREADABLE = (RuntimeError, EOFError, OSError, KeyError, IndexError, ValueError, pickle.UnpicklingError,
               zipfile.BadZipFile, UnicodeDecodeError)


def _first_line(exc: BaseException, limit: int = 100) -> str:
    """The first sentence of ``exc``'s message, shortened to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else "ended early"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _disallowed_globals(path: Path, exc: BaseException, allowed: list) -> list[str]:
    """The globals a weights-only load refused (those outside torch's defaults and ``allowed``), read
    statically from the file (no code runs); for legacy (non-zip) files, from torch's message."""
    try:
        with torch.serialization.safe_globals(allowed):
            return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except (AttributeError, *_UNREADABLE):
        return sorted(set(re.findall(r"GLOBAL (\S+) was not an allowed global", str(exc))))


def _weights_unpickler_detail(exc: BaseException) -> str:
    match = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", str(exc).strip(), flags=re.S)
    return match.group(1).strip() if match else _first_line(exc)


def load_checkpoint(path: Path | str, *, trust: bool = False, map_location: Any = "cpu",
                    allowed_globals: Sequence[type | Callable[..., Any]] = ()) -> Any:
    """Load a ``torch.save``/Lightning checkpoint from ``path`` (tensors onto ``map_location``).

    trust: False (default) → ``weights_only=True`` with ``allowed_globals`` allow-listed for this
    call; True → full pickle (``weights_only=False``), only for files from a trusted source.
    Raises ``FileNotFoundError`` (missing file) or ``ValueError`` (a folder, not a checkpoint,
    truncated or corrupt, or refused: needs globals outside the allow-list), each one line naming
    the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a checkpoint file")
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # torch.save writes a zip; its legacy format, a pickle
        raise ValueError(f"{path}: not a readable PyTorch checkpoint (truncated, corrupt or another format; "
                         f"neither a torch.save zip nor a pickle)")
    try:
        if trust:
            return torch.load(path, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(list(allowed_globals)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except _UNREADABLE as exc:
        if not trust and isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in str(exc):
            names, detail = _disallowed_globals(path, exc, list(allowed_globals)), _weights_unpickler_detail(exc)
            if names:
                raise ValueError(f"{path}: refused to load: the checkpoint needs {', '.join(names)}, which a "
                                 f"weights-only load does not allow; {TRUST_HINT}") from None
            if "Unsupported" in detail:
                raise ValueError(f"{path}: refused to load: not a weights-only checkpoint ({detail}); "
                                 f"{TRUST_HINT}") from None
            exc_text = detail
        else:
            exc_text = f"{type(exc).__name__}: {_first_line(exc)}"
        raise ValueError(f"{path}: not a readable PyTorch checkpoint (truncated, corrupt or another format; "
                         f"{exc_text})") from None


def check_file_kind(content: Any, source: str, kind: str, version: int, label: str, expected: str) -> dict:
    """``content`` unchanged if it is a dict whose ``kind`` and ``format_version`` are ``kind`` and
    ``version`` (a plain model file read by :func:`load_checkpoint`); otherwise a one-line ValueError
    naming ``source``: ``label`` names the file type, ``expected`` says where such files come from."""
    if not isinstance(content, dict) or content.get("kind") != kind:
        raise ValueError(f"{source}: not a {label} file (expected {expected})")
    if content.get("format_version") != version:
        raise ValueError(f"{source}: {label} file format {content.get('format_version')!r}, this version reads "
                         f"{version}")
    return content


__all__ = ["TRUST_HINT", "check_file_kind", "load_checkpoint"]
