"""Small data sets bundled with the toolkit, in a place every layer may import.

The MNIST test digits serve the core demo (``sciffusion demo mnist``) and are the default digit
source of Stochastic Moving MNIST in the video domain; neither owns them, so they live here.
"""
from __future__ import annotations

from pathlib import Path

MNIST_DIR = Path(__file__).resolve().parent / "mnist"


def mnist_test_paths() -> tuple[Path, Path]:
    """The bundled MNIST test images and labels (IDX, gzipped): ``(images, labels)``.

    10,000 images, 28×28 uint8; read them with :func:`sciffusion.common.io.idx.read_idx`.
    """
    return MNIST_DIR / "t10k-images-idx3-ubyte.gz", MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
