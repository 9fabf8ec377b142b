# sampler / warm-start sweep on held-out VALIDATION clips of the train store (clips i % 20 == 0, never trained on),
# not on the test split. usage: python sweep.py MODEL STORE N
import sys, time
import numpy as np, torch, zarr
from sciffusion.pipelines.video.predict import predict_clips
from sciffusion.pipelines.video.evaluate import score_frames
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import SamplingConfig
torch.set_num_threads(1)
model_path, store, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = read_model_file(model_path)
video = zarr.open_group(store, mode="r")["video"]
clips = np.stack([video[i] for i in range(0, 20 * n, 20)])
ctx, truth = clips[:, :10], clips[:, 10:20]
copy = np.repeat(ctx[:, -1:], 10, axis=1)[:, None]
s = score_frames(copy, truth)
print(f"copy-last ssim {s.ssim.mean():.4f} psnr {s.psnr.mean():.2f}", flush=True)
configs = [("dpmpp_2m", 10, None), ("dpmpp_2m", 10, 0.1), ("dpmpp_2m", 10, 0.3), ("dpmpp_2m", 10, 1.0),
           ("dpmpp_2m_sde", 10, None), ("dpmpp_2m_sde", 10, 1.0), ("heun_churn", 10, None), ("heun_churn", 10, 1.0),
           ("dpmpp_2m", 20, None)]
for sampler, steps, init in configs:
    t = time.time()
    pred = predict_clips(m, ctx, 10, 1, SamplingConfig(sampler=sampler, steps=steps, init_sigma=init), 0, 16)
    s = score_frames(pred, truth)
    print(f"{sampler:13s} steps {steps:2d} init {init}: ssim {s.ssim.mean():.4f} psnr {s.psnr.mean():.2f}  ({time.time()-t:.0f} s)", flush=True)
