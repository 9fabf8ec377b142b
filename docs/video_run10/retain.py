"""Car retention of the denoiser: blue (other car) pixels in D(x + σ n) on real windows, past visible/masked."""
import sys, zarr, numpy as np, torch
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import block_denoiser, SamplingConfig
from sciffusion.domains.video.networks.condition import VideoCondition
torch.manual_seed(0)
m = read_model_file(sys.argv[1]); m.net.eval()
z = zarr.open(sys.argv[2], mode='r')['video']
v = np.asarray(z[:32, 4:10]).astype(np.float32) / 127.5 - 1  # [B, T, H, W, C]
x = torch.from_numpy(v).permute(0, 4, 1, 2, 3)  # B C T H W
past, cur = x[:, :, :2], x[:, :, 2:6]
def blue(t):
    u = ((t.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 4, 1).numpy().astype(int)
    sat = u.max(-1) - u.min(-1)
    return float(((u[..., 2] > 180) & (u[..., 0] < 160) & (sat > 60)).sum((-1, -2)).mean())
print('real', blue(cur))
for mask in (1.0, 0.0):
    cond = VideoCondition(past=past, future=None, past_mask=torch.full((32,), mask), future_mask=None,
                          event=torch.zeros(32, dtype=torch.long))
    d = block_denoiser(m, cond, SamplingConfig(guidance=1.0))
    row = []
    for s in (0.05, 0.1, 0.2, 0.5, 1.0, 2.0):
        with torch.no_grad():
            out = d(cur + s * torch.randn_like(cur), torch.full((32,), s))
        err = float(((out - cur) ** 2).mean())
        row.append(f"σ{s}: {blue(out):.2f} ({err:.4f})")
    print('past' if mask else 'masked', ' '.join(row))
