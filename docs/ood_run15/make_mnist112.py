"""The 112-px MNIST sets of docs/ood.md, eleventh round (session 15): python make_mnist112.py OUT_DIR.

Normal: digits 0-4 of MNIST t10k[:8000] (the first 3,200; mnist112_train1k.npz: the first 1,000);
test: t10k[8000:9000], 5-9 anomalous. Every digit bilinearly upscaled from 28 to 112 px (PIL).
Then, per --max-side S in 64, 32, 0:
  sciffusion ood fit --data OUT/mnist112_train.npz --out det_S --max-side S --seed 0
  sciffusion ood score --detector det_S --data OUT/mnist112_test.npz --out s_S.csv
  sciffusion ood evaluate --scores s_S.csv --labels OUT/mnist112_test.npz --out rep_S
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sciffusion.common.data import mnist_test_paths
from sciffusion.common.io.idx import read_idx


def upscale(images: np.ndarray) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(x).resize((112, 112), Image.BILINEAR)) for x in images])


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    image_path, label_path = mnist_test_paths()
    images, digits = read_idx(image_path), read_idx(label_path)
    train = images[:8000][digits[:8000] <= 4][:3200]
    test, test_digits = images[8000:9000], digits[8000:9000]
    np.savez(out / "mnist112_train.npz", images=upscale(train))
    np.savez(out / "mnist112_train1k.npz", images=upscale(train[:1000]))
    np.savez(out / "mnist112_test.npz", images=upscale(test), label=(test_digits >= 5).astype(np.uint8))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
