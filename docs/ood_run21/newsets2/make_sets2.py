"""Scratch (session 36): a second set of anomalies the issue does not name, against the same normal clips as the
twenty-first round (2 moving digits, 8 frames of 32 px, train.npz of docs/ood_run20/newsets/make_sets.py):
fast (16-frame clips played at double speed: every second frame), dim (the digits at half brightness),
noisy (sensor noise, Gaussian, 20 grey levels), each 100 clips of test-split digits, against 200 normal ones."""
import numpy as np
from sciffusion.common.data import mnist_test_paths
from sciffusion.common.io.idx import read_idx
from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist

images = read_idx(mnist_test_paths()[0])
sq = lambda a: a[..., 0] if a.ndim == 5 else a
normal = sq(generate_smmnist(images, SMMNISTConfig(clips=200, split="test", seed=11, frames=8, size=32))[0])
fast = sq(generate_smmnist(images, SMMNISTConfig(clips=100, split="test", seed=12, frames=16, size=32))[0])[:, ::2]
dim = (sq(generate_smmnist(images, SMMNISTConfig(clips=100, split="test", seed=13, frames=8, size=32))[0]) // 2)
rng = np.random.default_rng(14)
base = sq(generate_smmnist(images, SMMNISTConfig(clips=100, split="test", seed=14, frames=8, size=32))[0])
noisy = np.clip(base.astype(np.float64) + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
test = np.concatenate([normal, fast, dim, noisy])
np.savez("test2.npz", clips=test, label=np.r_[np.zeros(200), np.ones(300)].astype(np.uint8))
np.save("kinds2.npy", np.array(["normal"] * 200 + ["fast"] * 100 + ["dim"] * 100 + ["noisy"] * 100))
print(test.shape)
