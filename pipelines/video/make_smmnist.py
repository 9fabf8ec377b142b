"""Generate a Stochastic Moving MNIST zarr store from the MNIST test digits."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sciffusion.common.data import mnist_test_paths
from sciffusion.common.io.atomic import atomic_path
from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist


@dataclass(frozen=True)
class MakeSMMNISTConfig:
    out: Path
    data: SMMNISTConfig
    mnist_images: Path | None = None  # None: the t10k digits of sciffusion.common.data
    mnist_labels: Path | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if Path(self.out).suffix != ".zarr":
            raise ValueError(f"--out: {self.out} should end in .zarr")


def make_smmnist(cfg: MakeSMMNISTConfig, progress: Callable[[int], None] | None = None) -> Path:
    """Write ``cfg.out``: ``video`` uint8 [N, T, S, S, 1], ``labels/digit_ids`` and ``labels/digit_classes``
    int64 [N, num_digits] (MNIST test-set indices and their classes), attrs with the full config."""
    from sciffusion.common.io.idx import read_idx
    from sciffusion.domains.video.zarr_store import write_video_store

    default_images, default_labels = mnist_test_paths()
    images_path = Path(cfg.mnist_images or default_images)
    labels_path = Path(cfg.mnist_labels or (default_labels if cfg.mnist_images is None else
                                            images_path.with_name("t10k-labels-idx1-ubyte.gz")))
    images = read_idx(images_path)
    classes = read_idx(labels_path) if labels_path.is_file() else None
    if classes is not None and len(classes) != len(images):
        raise ValueError(f"{labels_path}: {len(classes)} labels for {len(images)} images")
    video, ids = generate_smmnist(images, cfg.data, progress)
    labels = {"digit_ids": ids}
    if classes is not None:
        labels["digit_classes"] = classes[ids].astype("int64")
    d = cfg.data
    attrs = {"generator": "smmnist", "protocol": "SVG stochastic moving MNIST (Denton & Fergus 2018)",
             "seed": d.seed, "split": d.split, "fps": d.fps, "clips": d.clips, "frames": d.frames,
             "size": d.size, "digit_size": d.digit_size, "num_digits": d.num_digits,
             "mnist_source": "MNIST t10k (LeCun, Cortes, Burges)", "mnist_file": images_path.name}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        write_video_store(tmp, video, attrs, labels)
    return Path(cfg.out)
