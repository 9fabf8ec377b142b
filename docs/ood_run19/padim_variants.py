import sys, numpy as np, torch
from sklearn.metrics import roc_auc_score
torch.set_num_threads(1)
tag = sys.argv[1] if len(sys.argv) > 1 else "predict"
tr = np.load(f"/work/runs34/pos_{tag}_train.npy", mmap_mode="r")   # [N, L, D, T, P]
te = np.load(f"/work/runs34/pos_{tag}_test.npy", mmap_mode="r")
lab = np.load("/work/runs34/labels.npz", allow_pickle=True)
y, kinds = lab["labels"], lab["kinds"]
REG = 0.01

def feats(a, level, mode):
    f = torch.from_numpy(np.asarray(a[:, level])).float()  # [N, D, T, P]
    if mode == "frame":
        g = f
    elif mode == "diff":
        g = f[:, :, 1:] - f[:, :, :-1]
    elif mode == "pair":
        g = torch.cat([f[:, :, 1:], f[:, :, 1:] - f[:, :, :-1]], 1)
    elif mode == "triple":
        g = torch.cat([f[:, :, 1:-1], f[:, :, 2:] - f[:, :, 1:-1], f[:, :, 1:-1] - f[:, :, :-2]], 1)
    elif mode == "pair_pool":  # diff pooled 2x2 spatially + frame
        d = f[:, :, 1:] - f[:, :, :-1]
        g = torch.cat([f[:, :, 1:], d], 1)
    return g  # [N, D', T', P]

def fit(g):
    n, d, t, p = g.shape
    x = g.permute(3, 0, 2, 1).reshape(p, n * t, d).double()
    mu = x.mean(1)
    xc = x - mu[:, None]
    cov = xc.transpose(1, 2) @ xc / (x.shape[1] - 1)
    scale = torch.diagonal(cov, dim1=-2, dim2=-1).mean()
    prec = torch.linalg.inv(cov + REG * scale * torch.eye(d, dtype=cov.dtype))
    return mu.float(), prec.float()

def dist(g, mu, prec):
    n, d, t, p = g.shape
    out = []
    for ch in torch.split(g, 64):
        c = ch.permute(3, 0, 2, 1) - mu[:, None, None]  # [P, n, t, d]
        sq = torch.einsum("pntd,pde,pnte->pnt", c, prec, c).clamp_min(0).sqrt()
        out.append(sq.permute(1, 2, 0))  # [n, t, P]
    return torch.cat(out)

def auc_by_kind(s):
    r = {"all": roc_auc_score(y, s)}
    for k in sorted(set(kinds) - {"normal"}):
        m = (kinds == "normal") | (kinds == k)
        r[k] = roc_auc_score(kinds[m] == k, s[m])
    return r

modes = sys.argv[2].split(",") if len(sys.argv) > 2 else ["frame", "diff", "pair"]
for mode in modes:
    per_level = []
    for level in range(tr.shape[1]):
        mu, prec = fit(feats(tr, level, mode))
        dtr = dist(feats(tr[:300], level, mode), mu, prec).amax((1, 2)).numpy()
        dte = dist(feats(te, level, mode), mu, prec).amax((1, 2)).numpy()
        z = (dte - dtr.mean()) / dtr.std()
        per_level.append(z)
        print(mode, "level", level, {k: round(v, 4) for k, v in auc_by_kind(dte).items()}, flush=True)
    print(mode, "mean", {k: round(v, 4) for k, v in auc_by_kind(np.mean(per_level, 0)).items()}, flush=True)
