"""Folders of image files: which files are images, their natural order, and reading one as uint8.

Shared by every reader of image folders (video frame sequences, anomaly image sets); Pillow only.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value, case-blind: ``frame2`` < ``frame10``."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def visible_entries(folder: Path) -> list[Path]:
    """Entries of ``folder`` not starting with a dot, in natural order."""
    return sorted((p for p in Path(folder).iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (by suffix, :data:`IMAGE_SUFFIXES`), in natural order."""
    return [p for p in visible_entries(folder) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def is_grey(path: Path) -> bool:
    """True when the file's pixel mode is single-channel (read from the header only). A file Pillow
    cannot open is a one-line ``ValueError`` naming it, as in :func:`read_image`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.mode in GREY_MODES
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}: not a readable image ({type(exc).__name__})") from None


def read_image(path: Path, mode: Literal["RGB", "L"] = "RGB", size_hw: tuple[int, int] | None = None,
               nearest: bool = False) -> np.ndarray:
    """``path`` → uint8 ``[H, W, 3]`` (``RGB``) or ``[H, W]`` (``L``), 16-bit grey scaled to 8 bits;
    resized to ``size_hw`` (bilinear, antialiased; ``nearest`` for label masks) when given. A file
    Pillow cannot read is a one-line ``ValueError`` naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float grey: scale to 8 bits
                grey = np.asarray(image, np.float64)
                top = 65535.0 if grey.max() > 255 else 255.0
                image = Image.fromarray(np.clip(grey / top * 255 + 0.5, 0, 255).astype(np.uint8))
            image = image.convert(mode)
            if size_hw is not None and image.size != (size_hw[1], size_hw[0]):
                image = image.resize((size_hw[1], size_hw[0]), Image.NEAREST if nearest else Image.BILINEAR,
                                     reducing_gap=None)
            return np.asarray(image, np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}: not a readable image ({type(exc).__name__})") from None


__all__ = ["IMAGE_SUFFIXES", "image_files", "is_grey", "natural_key", "read_image", "visible_entries"]
