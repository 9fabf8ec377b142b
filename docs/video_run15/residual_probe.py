"""Where does the driving prediction model lose SSIM to copy-last? Predict the first 32 clips of
driving_test32 with the bundled model's recommended settings, then score raw and with the residual
(prediction - last context frame) shrunk to 0 where |residual| <= t levels."""
import sys, time, numpy as np, torch, zarr
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import SamplingConfig
from sciffusion.pipelines.video.predict import predict_clips
from sciffusion.domains.video.metrics.ssim import ssim_per_frame
from sciffusion.domains.video.metrics.psnr import psnr_per_frame
torch.set_num_threads(1)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
video = zarr.open_group('driving_test32.zarr', mode='r')['video'][:n]
model = read_model_file('domains/video/data/video_driving_predict.pt')
t0 = time.time()
pred = predict_clips(model, video[:, :10], 10, 1, SamplingConfig(sampler='dpmpp_2m', steps=10, init_sigma=0.1), 0, 8)[:, 0]
print('predict s', round(time.time() - t0, 1), flush=True)
np.save('pred.npy', pred)
truth = video[:, 10:20]
last = np.repeat(video[:, 9:10], 10, axis=1)
def score(p, name):
    s = np.stack([ssim_per_frame(p[i], truth[i]) for i in range(n)])
    q = np.stack([psnr_per_frame(p[i], truth[i]) for i in range(n)])
    print(f"{name:24s} SSIM {s.mean():.4f} PSNR {q.mean():.2f}  per-frame {' '.join(f'{v:.3f}' for v in s.mean(0))}", flush=True)
score(last, 'copy-last')
score(pred, 'model')
res = pred.astype(np.int16) - last.astype(np.int16)
print('|residual| quantiles', np.quantile(np.abs(res), [0.5, 0.75, 0.9, 0.95, 0.99]))
flat_truth = (truth == last)  # pixels that did not change in truth
print('fraction unchanged in truth', flat_truth.mean(), ' model changes them by mean', np.abs(res)[flat_truth].mean())
for t in (1, 2, 3, 4, 6, 8, 12):
    shrunk = np.where(np.abs(res) <= t, last, pred).astype(np.uint8)
    score(shrunk, f'shrink <= {t}')
