"""Session 39, offline: fixed rules for combining the ensemble's member z-scores, on the eight score tables of
the `auto` runs saved in docs/ood_run20 (three members) and docs/ood_run21 (four members). The member columns
of the tables are each member's own calibrated score; the ensemble z-scores them again with the mean and std of
its held-out training normals, which the tables do not hold, so here they are z-scored with the test normals'
(as the offline readings of sessions 35-36 did: an estimate; no anomaly label is used to fit anything).
Columns: the ensemble as it ran (real), each member alone, then each rule: max (the default, PyOD's
maximization), mean (PyOD's average), lse (log-sum-exp: a smooth max), lse2 (sharper), top2 (mean of the two
largest), fisher (sum of -log Gaussian tail probabilities), sumpos (sum of positive z), stouffer (sum / sqrt M).
Run from the repository root: python docs/ood_run23/combine_rules.py"""
import numpy as np, pandas as pd, sys
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
R='docs/'
sets={'drv36':R+'ood_run21/bench_driving_auto36/scores_driving.csv','drv36s1':R+'ood_run21/bench_driving_auto36_s1/scores_driving.csv',
 'smm36':R+'ood_run21/bench_smm_auto36/scores_smmnist.csv','dig36':R+'ood_run21/bench_smm_auto36/scores_smmnist-digits.csv',
 'drv35':R+'ood_run20/bench_driving_auto35/scores_driving.csv','drv35s1':R+'ood_run20/bench_driving_auto35_s1/scores_driving.csv',
 'smm35':R+'ood_run20/bench_smm_auto35/scores_smmnist.csv','dig35':R+'ood_run20/bench_smm_auto35/scores_smmnist-digits.csv'}
def rules(z):
    n=z.shape[1]
    out={'max':z.max(1),'mean':z.mean(1),'lse':logsumexp(z,1),'lse2':logsumexp(2*z,1)/2,
         'top2':np.sort(z,1)[:,-2:].mean(1),
         'fisher':(-norm.logsf(z)).sum(1),
         'sumpos':np.clip(z,0,None).sum(1),
         'stouffer':z.sum(1)/np.sqrt(n)}
    return out
rows=[]
for name,p in sets.items():
    d=pd.read_csv(p); cols=[c for c in d.columns if c.startswith('diffusion (') and ': ' in c]
    ens=[c for c in d.columns if c.startswith('diffusion (') and ': ' not in c][0]
    y=d.label.values; m=d[cols].values; z=(m-m[y==0].mean(0))/m[y==0].std(0)
    r={'set':name,'real':roc_auc_score(y,d[ens])}
    for c in cols: r[c.split(': ')[1][:5]]=roc_auc_score(y,d[c])
    for k,v in rules(z).items(): r[k]=roc_auc_score(y,v)
    rows.append(r)
pd.set_option('display.width',250)
print(pd.DataFrame(rows).round(3).to_string(index=False))
