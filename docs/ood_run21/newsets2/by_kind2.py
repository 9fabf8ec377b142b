"""Scratch (session 36): AUROC per kind on test2.npz for our score tables and PyOD detectors fitted on the same
normal clips (the bench's pooled pixels, its defaults)."""
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from sciffusion.pipelines.bench.ood import pyod_inputs, _pyod_detector

kinds = np.load("kinds2.npy").astype(str); y = (kinds != "normal").astype(int)
KINDS = ["fast", "dim", "noisy"]

def line(name, s):
    out = [roc_auc_score(y, s)] + [roc_auc_score(y[(kinds == "normal") | (kinds == k)], s[(kinds == "normal") | (kinds == k)]) for k in KINDS]
    print(f"{name:34s} all {out[0]:.3f}  " + "  ".join(f"{k} {v:.3f}" for k, v in zip(KINDS, out[1:])), flush=True)

for f in ["s_auto35.csv", "s_auto36.csv"]:
    t = pd.read_csv(f)
    for col in [c for c in t.columns if c in ("score", "features", "predictive", "pixels", "statistics")]:
        line(f"{f}:{col}", t[col].values)
train = np.load("/work/runs35/newsets/train.npz")["clips"][..., None]
test = np.load("test2.npz")["clips"][..., None]
for name in ["KNN", "IForest", "ECOD", "PCA", "LOF", "AutoEncoder"]:
    det = _pyod_detector(name, 0); det.fit(pyod_inputs(train, 4096))
    line(f"pyod {name}", np.asarray(det.decision_function(pyod_inputs(test, 4096))))
