"""Scratch (session 36): MNIST as the bench's set (a) lays it out (normal: digits 0-4 of MNIST test[:8000], 4,000;
test: MNIST test[8000:], 2,000, 5-9 anomalous), plus the same 0-4 test digits dimmed to half brightness and with
sensor noise (Gaussian, 20 grey levels): images anomalies the issue does not name."""
import numpy as np
from sciffusion.common.data import mnist_test_paths
from sciffusion.common.io.idx import read_idx

ip, lp = mnist_test_paths()
images, digits = read_idx(ip), read_idx(lp)
train = images[:8000][digits[:8000] <= 4][:4000]
test, td = images[8000:][:2000], digits[8000:][:2000]
np.savez("train.npz", images=train)
np.savez("test_a.npz", images=test, label=(td >= 5).astype(np.uint8))
normal = test[td <= 4]
rng = np.random.default_rng(0)
half = len(normal) // 2
dim = normal[:half] // 2
noisy = np.clip(normal[half:].astype(float) + rng.normal(0, 20, normal[half:].shape), 0, 255).astype(np.uint8)
extra = np.concatenate([normal, dim, noisy])
np.savez("test_b.npz", images=extra, label=np.r_[np.zeros(len(normal)), np.ones(len(dim) + len(noisy))].astype(np.uint8))
np.save("kinds_b.npy", np.array(["normal"] * len(normal) + ["dim"] * len(dim) + ["noisy"] * len(noisy)))
print(train.shape, test.shape, extra.shape)
