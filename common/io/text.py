"""Text files a user gives us: UTF-8 (a leading byte-order mark, as spreadsheet exports write, dropped),
or a one-line error naming the file instead of a codec traceback."""
from __future__ import annotations

from pathlib import Path


def read_text(path: Path | str, expected: str) -> str:
    """The content of ``path``; ``ValueError`` ``<path>: not UTF-8 text (...); is this really <expected>?``
    for a binary or otherwise encoded file."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (undecodable byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start}); is this really {expected}?") from None


__all__ = ["read_text"]
