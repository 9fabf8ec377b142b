"""Scratch (session 35): the same fitted ensemble (det_auto), its combination re-calibrated on the same held-out
clips with other densities; AUROC on test.npz by kind."""
import numpy as np, torch
from sklearn.metrics import roc_auc_score
from sciffusion.common.anomaly import load_any_detector, calibrate, CalibrationConfig
from sciffusion.common.anomaly.detector import holdout_size
det = load_any_detector('det_auto/detector.pt')
tr = np.load('train.npz')['clips'].astype(np.float32) / 127.5 - 1
x = torch.from_numpy(tr)[:, None]  # [N, 1, T, H, W]
n_hold = holdout_size(len(x), 0.2)
order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
hold = x[order[:n_hold]]
hf = det.score_samples(hold).features.numpy()
te = torch.from_numpy(np.load('test.npz')['clips'].astype(np.float32) / 127.5 - 1)[:, None]
tf = det.score_samples(te).features.numpy()
k = np.load('kinds.npy', allow_pickle=True); y = (k != 'normal').astype(int)
for dens in ['max', 'mean', 'gmm', 'knn', 'kde']:
    cal = calibrate(hf, CalibrationConfig(density=dens))
    s = cal.score(tf)
    out = {'all': roc_auc_score(y, s)}
    for kind in ['three_digits', 'one_digit']:
        m = (k == 'normal') | (k == kind); out[kind] = roc_auc_score(y[m], s[m])
    print(dens, {a: round(b, 4) for a, b in out.items()})
