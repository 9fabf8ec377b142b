"""Scratch (session 36): a whole-input Gaussian of global pixel statistics (intensity and change histograms)
next to the per-position pixel Gaussians. AUROC alone and max-of-z with the pixels detector."""
import sys, time, numpy as np, torch
from sklearn.metrics import roc_auc_score
from sklearn.covariance import LedoitWolf
from sciffusion.pipelines.bench.ood import (OODBenchConfig, mnist_set, smmnist_set, smmnist_digits_set, driving_set,
                                            model_inputs)
from sciffusion.common.anomaly.pixel_detector import PixelGaussianDetector
from sciffusion.common.anomaly.detector import split_normal, as_inputs
from sciffusion.common.anomaly.resolution import held_at
torch.set_num_threads(1)

def hist(v, edges):
    # v [N, C, M] -> [N, C*(len(edges)-1)] fractions
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        out.append(((v >= lo) & (v < hi)).float().mean(-1))
    return torch.stack(out, -1).flatten(1)

VARIANT = 'hist'
def glob(x, bins):
    if VARIANT != 'hist':
        n, c = x.shape[:2]
        v = x.reshape(n, c, -1)
        f = [v.mean(-1)]
        if 'std' in VARIANT: f.append(v.std(-1))
        if x.dim() == 5 and 'chg' in VARIANT:
            d = (x[:, :, 1:] - x[:, :, :-1]).abs().reshape(n, c, -1)
            f.append(d.mean(-1))
            if 'std' in VARIANT: f.append(d.std(-1))
        return torch.cat(f, 1).double().numpy()
    # x [N, C, (T,), H, W] in [-1, 1]
    n, c = x.shape[:2]
    e = torch.linspace(-1, 1 + 1e-6, bins + 1)
    f = [hist(x.reshape(n, c, -1), e)]
    if x.dim() == 5:
        d = (x[:, :, 1:] - x[:, :, :-1]).abs().reshape(n, c, -1)
        de = torch.tensor([0, 1/64, 1/32, 1/16, 1/8, 1/4, 1/2, 1, 2.01])
        f.append(hist(d, de))
    return torch.cat(f, 1).double().numpy()

def run(name, s, bins=16):
    cfg = OODBenchConfig.__dataclass_fields__
    tr = torch.from_numpy(model_inputs(s.train)); te = torch.from_numpy(model_inputs(s.test))
    y = np.asarray(s.labels); kinds = s.kind_of_each()
    det = PixelGaussianDetector().fit(tr)
    zp = det.decision_function(te)  # calibrated score (z of the pixels feature)
    work = det.working_shape
    x = held_at(as_inputs(tr), work); xt = held_at(as_inputs(te), work)
    a, h = split_normal(x, 0.2, 0)
    ga, gh, gt = glob(a, bins), glob(h, bins), glob(xt, bins)
    lw = LedoitWolf().fit(ga)
    dh = np.sqrt(lw.mahalanobis(gh)); dt = np.sqrt(lw.mahalanobis(gt))
    zg = (dt - dh.mean()) / dh.std()
    # zp is already z against the holdout
    np.save(f'zg_{VARIANT}_{name}.npy', zg); np.save(f'zp_{name}.npy', zp)
    res = {'pix': roc_auc_score(y, zp), 'glob': roc_auc_score(y, zg), 'max': roc_auc_score(y, np.maximum(zp, zg))}
    per = {}
    for k in np.unique(kinds):
        if k == 'normal': continue
        m = (kinds == 'normal') | (kinds == k)
        per[k] = tuple(round(roc_auc_score(y[m], v[m]), 3) for v in (zp, zg, np.maximum(zp, zg)))
    print(name, {k: round(v, 4) for k, v in res.items()}, per, flush=True)

cfg = OODBenchConfig(out='x', driving_stores=('/work/runs35/driving_train600.zarr', '/work/runs35/driving_test_v2.zarr'))
VARIANT = sys.argv[1]
which = sys.argv[2:] or ['newsets', 'mnist', 'smmnist', 'smmnist-digits', 'driving']
for w in which:
    t = time.time()
    if w == 'newsets':
        from types import SimpleNamespace
        tr = np.load('/work/runs35/newsets/train.npz')['clips'][..., None]
        te = np.load('/work/runs35/newsets/test.npz'); k = np.load('/work/runs35/newsets/kinds.npy', allow_pickle=True).astype(str)
        s = SimpleNamespace(train=tr, test=te['clips'][..., None], labels=te['label'], kind_of_each=lambda: k)
    else:
        s = {'mnist': mnist_set, 'smmnist': smmnist_set, 'smmnist-digits': smmnist_digits_set, 'driving': driving_set}[w](cfg)
    run(w, s)
    print('  ', round(time.time() - t), 's', flush=True)
