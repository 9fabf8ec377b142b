"""Session 42, offline: a one-sided smooth max of the ensemble's member z-scores, log Σ exp(max(z, 0)) (lse_pos),
against the default log-sum-exp (lse), max, mean and the sum of positive z, on the twelve score tables of the
`auto` runs saved in docs/ood_run20, ood_run21 and ood_run24 and on the missing-content sets of session 41
(docs/ood_run25/newsets: one_digit = a digit missing, three_digits = one extra; fast, dim, noisy clips).
The idea: on a missing digit three members score the anomalies *below* normal (less content, less error), and
under log-sum-exp those negative z pull the anomalies down, whereas max ignores them; clipping z at 0 stops that.
lse_floor1 clips at -1. Members are z-scored with the test normals (an estimate, as in docs/ood_run23; no anomaly
label fits anything). The newsets tables are not in the repo (session 41's scratch, NEWSETS below): remake them
with docs/ood_run25/newsets/run.py.
Run from the repository root: python docs/ood_run26/one_sided.py [NEWSETS_DIR]"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

R = "docs/"
NEWSETS = Path(sys.argv[1]) if len(sys.argv) > 1 else None
sets={'drv36':R+'ood_run21/bench_driving_auto36/scores_driving.csv','drv36s1':R+'ood_run21/bench_driving_auto36_s1/scores_driving.csv',
 'smm36':R+'ood_run21/bench_smm_auto36/scores_smmnist.csv','dig36':R+'ood_run21/bench_smm_auto36/scores_smmnist-digits.csv',
 'drv35':R+'ood_run20/bench_driving_auto35/scores_driving.csv','drv35s1':R+'ood_run20/bench_driving_auto35_s1/scores_driving.csv',
 'smm35':R+'ood_run20/bench_smm_auto35/scores_smmnist.csv','dig35':R+'ood_run20/bench_smm_auto35/scores_smmnist-digits.csv',
 'drv24':R+'ood_run24/bench_driving_recomb_s0/scores_driving.csv','drv24s1':R+'ood_run24/bench_driving_recomb_s1/scores_driving.csv',
 'smm24':R+'ood_run24/bench_smm_recomb_s0/scores_smmnist.csv','dig24':R+'ood_run24/bench_smm_recomb_s0/scores_smmnist-digits.csv'}
def rules(z):
    zp=np.clip(z,0,None)
    return {'max':z.max(1),'lse':logsumexp(z,1),'lse_pos':logsumexp(zp,1),'mean':z.mean(1),'sumpos':zp.sum(1),
            'lse_floor1':logsumexp(np.clip(z,-1,None),1)}
rows=[]
for name,p in sets.items():
    try: d=pd.read_csv(p)
    except FileNotFoundError: print('missing',p); continue
    cols=[c for c in d.columns if c.startswith('diffusion (') and ': ' in c]
    y=d.label.values; m=d[cols].values; z=(m-m[y==0].mean(0))/m[y==0].std(0)
    r={'set':name}
    for k,v in rules(z).items(): r[k]=roc_auc_score(y,v)
    rows.append(r)
for tab,kf,kinds in ([] if NEWSETS is None else [('scores_test.csv','kinds.npy',['three_digits','one_digit']),('scores_test2.csv','kinds2.npy',['fast','dim','noisy'])]):
    d=pd.read_csv(str(NEWSETS)+'/'+tab); names=np.load(str(NEWSETS)+'/'+kf,allow_pickle=True).astype(str)
    m=d[['features','predictive','pixels','statistics']].values; y=(names!='normal').astype(int)
    z=(m-m[y==0].mean(0))/m[y==0].std(0)
    for kind in kinds:
        keep=(names=='normal')|(names==kind)
        r={'set':kind}
        for k,v in rules(z[keep]).items(): r[k]=roc_auc_score(y[keep],v)
        rows.append(r)
pd.set_option('display.width',250)
print(pd.DataFrame(rows).round(4).to_string(index=False))
