"""Scratch (session 36): statistics per channel (shipped) vs on the channel mean (luminance), driving only
(grey sets are the same either way); ensemble effect on session 35's saved member scores."""
import numpy as np, torch, pandas as pd
from sklearn.metrics import roc_auc_score
import sciffusion.common.anomaly.pixel_statistics as ps
import sciffusion.common.anomaly.pixel_detector as pd_mod
from sciffusion.pipelines.bench.ood import OODBenchConfig, driving_set, model_inputs
from sciffusion.common.anomaly.pixel_detector import PixelGaussianDetector, default_pixel_config
torch.set_num_threads(1)
cfg = OODBenchConfig(out='x', driving_stores=('/work/runs35/driving_train600.zarr', '/work/runs35/driving_test_v2.zarr'))
s = driving_set(cfg)
y = np.asarray(s.labels); nm = y == 0
orig = ps.pixel_statistics
for name, path in (("s0", '/work/runs35/bench_driving_auto35/scores_driving.csv'), ("s1", '/work/runs35/bench_driving_auto35_s1/scores_driving.csv')):
    d = pd.read_csv(path); cols = [c for c in d.columns if c.startswith('diffusion (') and ': ' in c]
    m = d[cols].values; z = ((m - m[nm].mean(0)) / m[nm].std(0)).max(1)
    for variant in ("channels", "luminance", "lum+sat"):
        def stats(x, v=variant):
            if v == "channels": return orig(x)
            lum = x.mean(1, keepdim=True)
            if v == "luminance": return orig(lum)
            sat = (x - lum).abs().mean(1, keepdim=True)
            return torch.cat([orig(lum), orig(sat)], 1)
        ps.pixel_statistics = stats
        det = PixelGaussianDetector(config=default_pixel_config('statistics')).fit(model_inputs(s.train))
        zg = det.decision_function(model_inputs(s.test)); zgz = (zg - zg[nm].mean()) / zg[nm].std()
        print(name, variant, 'alone', round(roc_auc_score(y, zg), 4), 'ens', round(roc_auc_score(y, z), 4), '+stat', round(roc_auc_score(y, np.maximum(z, zgz)), 4), flush=True)
