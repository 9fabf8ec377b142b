"""Scratch: SM-MNIST anomaly sets the issue does not name (session 35), as users hand them to `ood`:
normal = 2 moving digits (train split digits); anomalies = 3 digits (an extra object) or 1 digit (a missing one),
test-split digits; 8 frames of 32 px, like the bench's SM-MNIST."""
import numpy as np
from sciffusion.common.data import mnist_test_paths
from sciffusion.common.io.idx import read_idx
from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist

images = read_idx(mnist_test_paths()[0])
shape = dict(frames=8, size=32)
train, _ = generate_smmnist(images, SMMNISTConfig(clips=1000, split="train", seed=0, **shape))
normal, _ = generate_smmnist(images, SMMNISTConfig(clips=200, split="test", seed=1, **shape))
three, _ = generate_smmnist(images, SMMNISTConfig(clips=100, split="test", seed=2, num_digits=3, **shape))
one, _ = generate_smmnist(images, SMMNISTConfig(clips=100, split="test", seed=3, num_digits=1, **shape))
sq = lambda a: a[..., 0] if a.ndim == 5 else a
np.savez("train.npz", clips=sq(train))
test = np.concatenate([sq(normal), sq(three), sq(one)])
np.savez("test.npz", clips=test, label=np.r_[np.zeros(200), np.ones(200)].astype(np.uint8))
np.save("kinds.npy", np.array(["normal"] * 200 + ["three_digits"] * 100 + ["one_digit"] * 100))
print(train.shape, test.shape)
