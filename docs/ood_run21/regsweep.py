"""Scratch (session 36): the ridge of the statistics Gaussian (in standardised units), 0.01 to 3, alone and
added to the session-35 `auto` member scores; 0.01 (the positions' default) was best on all three sets."""
import sys, numpy as np, torch, pandas as pd
from sklearn.metrics import roc_auc_score
from types import SimpleNamespace
import sciffusion.common.anomaly.pixel_statistics as ps
from sciffusion.common.anomaly.positional import PositionStatistics
from sciffusion.pipelines.bench.ood import (OODBenchConfig, smmnist_digits_set, driving_set, model_inputs)
from sciffusion.common.anomaly.pixel_detector import PixelGaussianDetector, default_pixel_config
torch.set_num_threads(1)
cfg = OODBenchConfig(out='x', driving_stores=('/work/runs35/driving_train600.zarr', '/work/runs35/driving_test_v2.zarr'))
orig = PositionStatistics.finish
sets = {'driving': '/work/runs35/bench_driving_auto35/scores_driving.csv', 'smmnist-digits': '/work/runs35/bench_smm_auto35/scores_smmnist-digits.csv', 'newsets': '/work/runs35/newsets/s_auto.csv'}
for w in sys.argv[1:]:
    if w == 'newsets':
        tr = np.load('/work/runs35/newsets/train.npz')['clips'][..., None]
        te = np.load('/work/runs35/newsets/test.npz'); k = np.load('/work/runs35/newsets/kinds.npy', allow_pickle=True).astype(str)
        s = SimpleNamespace(train=tr, test=te['clips'][..., None], labels=te['label'], kind_of_each=lambda: k)
    else:
        s = {'smmnist-digits': smmnist_digits_set, 'driving': driving_set}[w](cfg)
    d = pd.read_csv(sets[w])
    cols = ['features', 'predictive', 'pixels'] if w == 'newsets' else [c for c in d.columns if c.startswith('diffusion (') and ': ' in c]
    y = np.asarray(s.labels); nm = y == 0; m = d[cols].values; z = ((m - m[nm].mean(0)) / m[nm].std(0)).max(1)
    xtr, xte = model_inputs(s.train), model_inputs(s.test)
    for reg in [0.01, 0.1, 0.3, 1.0, 3.0]:
        PositionStatistics.finish = lambda self, reg=reg: orig(self, reg)
        det = PixelGaussianDetector(config=default_pixel_config('statistics')).fit(xtr)
        zg = det.decision_function(xte); zgz = (zg - zg[nm].mean()) / zg[nm].std()
        print(w, reg, 'alone', round(roc_auc_score(y, zg), 4), 'ens', round(roc_auc_score(y, z), 4), '+stat', round(roc_auc_score(y, np.maximum(z, zgz)), 4), flush=True)
