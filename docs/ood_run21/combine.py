"""Scratch (session 36): the offline reading that chose the statistics member: the member scores of the
session-35 `auto` runs (their saved score tables), z-scored on their normal test clips, max-of-z with and without
the whole-input statistics z (globstats.py). Paths are this machine's scratch folders."""
import sys, numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
V = sys.argv[1]
sets = {'driving': '/work/runs35/bench_driving_auto35/scores_driving.csv',
        'driving_s1': '/work/runs35/bench_driving_auto35_s1/scores_driving.csv',
        'smmnist': '/work/runs35/bench_smm_auto35/scores_smmnist.csv',
        'smmnist-digits': '/work/runs35/bench_smm_auto35/scores_smmnist-digits.csv',
        'newsets': '/work/runs35/newsets/s_auto.csv'}
for name, path in sets.items():
    try:
        zg = np.load(f'zg_{V}_{name.replace("_s1", "")}.npy')
    except FileNotFoundError:
        continue
    d = pd.read_csv(path)
    if 'kind' not in d:
        k = np.load('/work/runs35/newsets/kinds.npy', allow_pickle=True).astype(str); d['kind'] = k; d['label'] = (k != 'normal').astype(int)
        cols = ['features', 'predictive', 'pixels']; ens = 'score'
    else:
        cols = [c for c in d.columns if c.startswith('diffusion (') and ': ' in c]; ens = [c for c in d.columns if c.startswith('diffusion (') and ': ' not in c][0]
    y = d.label.values; nm = y == 0
    m = d[cols].values
    z = (m - m[nm].mean(0)) / m[nm].std(0)
    zgz = (zg - zg[nm].mean()) / zg[nm].std()
    base = z.max(1); new = np.maximum(base, zgz)
    out = {'real': roc_auc_score(y, d[ens]), 'approx': roc_auc_score(y, base), '+glob': roc_auc_score(y, new), 'glob': roc_auc_score(y, zg)}
    kinds = d.kind.values
    per = {k: (round(roc_auc_score(y[(kinds == 'normal') | (kinds == k)], base[(kinds == 'normal') | (kinds == k)]), 3),
               round(roc_auc_score(y[(kinds == 'normal') | (kinds == k)], new[(kinds == 'normal') | (kinds == k)]), 3))
           for k in np.unique(kinds) if k != 'normal'}
    print(V, name, {a: round(b, 4) for a, b in out.items()}, per)
