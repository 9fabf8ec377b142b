"""Scratch (session 36): MNIST set (a) and the dim / noisy images, scored by one `ood fit --score
features+statistics` detector: the ensemble, its features member (= features alone: the only network) and its
statistics member; PyOD fitted on the same 4,000 normal images."""
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from sciffusion.pipelines.bench.ood import pyod_inputs, _pyod_detector

ya = np.load("test_a.npz")["label"]; kb = np.load("kinds_b.npy").astype(str); yb = (kb != "normal").astype(int)
sa, sb = pd.read_csv("s_a.csv"), pd.read_csv("s_b.csv")

def report(name, a, b):
    dim = (kb == "normal") | (kb == "dim"); noisy = (kb == "normal") | (kb == "noisy")
    print(f"{name:26s} (a) 5-9 {roc_auc_score(ya, a):.3f}  dim {roc_auc_score(yb[dim], b[dim]):.3f}  "
          f"noisy {roc_auc_score(yb[noisy], b[noisy]):.3f}", flush=True)

for col in ["score", "features", "statistics"]:
    report(f"ours {col}", sa[col].values, sb[col].values)
train = np.load("train.npz")["images"][..., None]
ta, tb = np.load("test_a.npz")["images"][..., None], np.load("test_b.npz")["images"][..., None]
for name in ["KNN", "IForest", "ECOD", "PCA", "LOF", "AutoEncoder"]:
    det = _pyod_detector(name, 0); det.fit(pyod_inputs(train, 4096))
    report(f"pyod {name}", np.asarray(det.decision_function(pyod_inputs(ta, 4096))),
           np.asarray(det.decision_function(pyod_inputs(tb, 4096))))
