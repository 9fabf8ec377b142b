"""Twenty-fifth round (session 40): the denoiser of a video model file on held-out SM-MNIST windows (2 past
frames 8-9, 4 target frames 10-13 of the first 32 clips of smmnist_test.zarr in the working folder), noised at
several sigma: mse of D against the truth, with the past given (past=1) and masked (past=0).
Usage: python denoiser_probe.py MODEL.ckpt"""
import sys, numpy as np, torch, zarr
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.networks.condition import VideoCondition
from sciffusion.common.training.losses import Preconditioning
from sciffusion.domains.video.datamodule import to_unit_range
torch.set_num_threads(1); torch.manual_seed(0)
m = read_model_file(sys.argv[1]); net = m.net.eval()
pre = Preconditioning(m.train.loss, m.train.sigma_data)
v = zarr.open_group("smmnist_test.zarr", mode="r")["video"][:32]
x = torch.from_numpy(v).permute(0, 4, 1, 2, 3).float() / 127.5 - 1  # B C T H W
P = m.config.past_frames; F = m.config.frames
past = x[:, :, 10 - P:10]; tgt = x[:, :, 10:10 + F]
print("range check", x.min().item(), x.max().item(), "cfg", P, F)
for mask in (1.0, 0.0):
    cond = VideoCondition(past=past * mask, future=None, past_mask=torch.full((32,), mask), future_mask=None, event=None)
    for s in (0.02, 0.1, 0.3, 1.0, 3.0, 10.0, 80.0):
        with torch.no_grad():
            d = pre.denoise(net, tgt + s * torch.randn_like(tgt), torch.full((32,), s), cond)
        err = ((d - tgt) ** 2).mean().item()
        print(f"past={mask} sigma {s:5}: mse(D,x0) {err:.4f}  mse(D, copy-last) {((d - past[:, :, -1:]) ** 2).mean().item():.4f}  mse(copy-last,x0) {((past[:, :, -1:] - tgt) ** 2).mean().item():.4f}")
