"""Offline best-of-K: candidates = consecutive groups of K clips (different seeds' stores concatenated);
criterion = log-odds of the event over a sigma subset and blocks. usage: simulate.py PRED.npy EVENT PROBE.npz..."""
import sys, itertools, numpy as np
pred = np.load(sys.argv[1]); ev = int(sys.argv[2]); files = sys.argv[3:]
ds = [np.load(f) for f in files]; s = ds[0]['sigmas']
blocks = sorted(k for k in ds[0].files if k.startswith('block'))
A = {b: np.concatenate([d[b] for d in ds]) for b in blocks}   # [N, L, E]
n = len(pred); assert len(A[blocks[0]]) == n
hit = pred == ev
print(f'base fidelity {hit.mean():.3f} ({hit.sum()}/{n})')
def odds(a):  # a [N, E]
    other = np.delete(a, ev, 1); m = other.max(1, keepdims=True)
    return a[:, ev] - (m[:, 0] + np.log(np.exp(other - m).sum(1)))
u = np.log(s)
def crit(levels, bl):
    w = np.zeros(len(s)); idx = list(levels)
    if len(idx) > 1:
        du = np.diff(u[idx]); w[idx[:-1]] += du / 2; w[idx[1:]] += du / 2
    else: w[idx] = 1
    tot = sum((A[b] * w[None, :, None]).sum(1) for b in bl)
    return odds(tot)
from sklearn.metrics import roc_auc_score
rows = []
for lo in range(len(s)):
    for hi in range(lo, len(s)):
        for bl in ([blocks[0]], blocks):
            c = crit(range(lo, hi + 1), bl)
            auc = roc_auc_score(hit, c) if 0 < hit.sum() < n else float('nan')
            res = []
            for K in (2, 4):
                g = n // K; cc = c[:g*K].reshape(g, K); hh = hit[:g*K].reshape(g, K)
                res.append(hh[np.arange(g), cc.argmax(1)].mean())
            rows.append((auc, s[lo], s[hi], '+'.join(bl), *res))
rows.sort(key=lambda r: -r[0])
for r in rows[:12] + rows[-3:]:
    print('AUROC %.3f  sigma %.3g-%.3g  %s  best-of-2 %.3f  best-of-4 %.3f' % r)
