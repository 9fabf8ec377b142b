"""Twenty-fifth round (session 40): one sample (K = 1, dpmpp_2m_sde, 10 steps, seed 0) of frames 10-19 from
frames 0-9 for the first N clips of smmnist_test.zarr; SSIM overall and of the first predicted frame, and again
with the pixels under 8, 24, 64 (of 255) set to black, to read what a faint background costs.
Usage: python sample_probe.py MODEL.ckpt [N]"""
import sys, time, numpy as np, torch, zarr
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import SamplingConfig
from sciffusion.pipelines.video.predict import predict_clips
from sciffusion.domains.video.metrics.ssim import ssim_per_frame
torch.set_num_threads(1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 32
model = read_model_file(sys.argv[1])
v = zarr.open_group("smmnist_test.zarr", mode="r")["video"][:N]
ctx, truth = v[:, :10], v[:, 10:20]
for name, samp in [("dpmpp_2m_sde10", SamplingConfig(sampler="dpmpp_2m_sde", steps=10)),
                   ][:1]:
    t = time.time()
    pred = predict_clips(model, ctx, 10, 1, samp, 0, 16)[:, 0]
    s = ssim_per_frame(pred, truth)  # [N, T]?
    line = f"{name:16s} {time.time()-t:5.1f}s SSIM {s.mean():.4f} f1 {s[:,0].mean():.4f}"
    for thr in (8, 24, 64):
        p2 = np.where(pred < thr, 0, pred).astype(np.uint8)
        s2 = ssim_per_frame(p2, truth)
        line += f" | zero<{thr} {s2.mean():.4f} f1 {s2[:,0].mean():.4f}"
    print(line, flush=True)
    np.save(f"probe/pred_{name}.npy", pred)
cl = np.repeat(ctx[:, -1:], 10, axis=1)
s = ssim_per_frame(cl, truth); print("copy-last", s.mean(), s[:,0].mean())
print("bg fraction of pred pixels in (0,24):", ((pred > 0) & (pred < 24)).mean(), "truth:", ((truth > 0) & (truth < 24)).mean())
