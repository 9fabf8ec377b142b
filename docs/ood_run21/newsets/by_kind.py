"""AUROC of the ensemble and of each member on the twenty-first round's set, all and per kind (session 36).
Run beside kinds.npy (docs/ood_run20/newsets/make_sets.py) and the score table of `ood score`."""
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

kinds = np.load("kinds.npy", allow_pickle=True).astype(str)
y = (kinds != "normal").astype(int)
table = pd.read_csv(sys.argv[1] if len(sys.argv) > 1 else "s_auto36.csv")
for column in ["score", "features", "predictive", "pixels", "statistics"]:
    row = [roc_auc_score(y, table[column])]
    for kind in ["three_digits", "one_digit"]:
        keep = (kinds == "normal") | (kinds == kind)
        row.append(roc_auc_score(y[keep], table[column][keep]))
    print(f"{column:11s} all {row[0]:.4f}  three digits {row[1]:.4f}  one digit {row[2]:.4f}")
