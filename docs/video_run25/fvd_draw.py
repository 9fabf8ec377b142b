"""Twenty-seventh round (session 42): the FVD of another sample index of a saved fvd_probe prediction.
Usage, beside smmnist_test.zarr and the cached smmnist_test_i3d_256.npy that fvd_probe.py writes:
  python fvd_draw.py pred_TAG.npy K   (K: the sample index, 0-based; about 11 minutes on one core)"""
import numpy as np, torch, zarr, sys
from sciffusion.domains.video.metrics.fvd import extract_features, fvd_from_features
from sciffusion.domains.video.metrics.i3d import load_i3d
torch.set_num_threads(1)
v = zarr.open_group("smmnist_test.zarr", mode="r")["video"][:256]
pred = np.load(sys.argv[1]); k = int(sys.argv[2])
real = np.load("smmnist_test_i3d_256.npy")
f = extract_features(load_i3d(), np.concatenate([v[:, :10], pred[:, k]], 1), batch_size=16)
print(sys.argv[1], "sample", k, "FVD", float(fvd_from_features(real, f)), flush=True)
