"""Does the model's own event posterior (ELBO per label) agree with the judge on generated clips?
usage: probe.py STORE[,STORE...] OUT.npz [block ...]"""
import sys, time
import numpy as np, torch, zarr
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import event_log_likelihoods
from sciffusion.domains.video.datamodule import to_unit_range
from sciffusion.common.likelihood.elbo import conditional_log_likelihoods

torch.set_grad_enabled(False)
model = read_model_file('/work/main/domains/video/data/video_driving.pt')
stores = sys.argv[1].split(','); out = sys.argv[2]
blocks = [int(b) for b in sys.argv[3:]] or [0]
sigmas = torch.logspace(np.log10(0.02), np.log10(20), 7)
clips = np.concatenate([zarr.open(s + '/clips.zarr', mode='r')['video'][:] for s in stores])
x = to_unit_range(torch.from_numpy(clips))
print(x.shape)
# per level, per label, per block: keep the raw per-level terms by calling with one level at a time
res = {}
t0 = time.time()
for j in blocks:
    per = []
    for s in sigmas:
        g = torch.Generator().manual_seed(0)
        ll = torch.cat([event_log_likelihoods(model, x[i:i+16], [4*j], s.view(1), generator=g) for i in range(0, len(x), 16)])
        per.append(ll.numpy())
    res[f'block{j}'] = np.stack(per, 1)  # [B, L, E]
    print('block', j, time.time() - t0, flush=True)
np.savez(out, sigmas=sigmas.numpy(), **res)
