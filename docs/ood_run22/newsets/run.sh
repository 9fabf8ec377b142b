set -e
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
N=/work/runs35/newsets
sciffusion ood fit --data $N/train.npz --out det_auto37 --minutes 10 --max-steps 100000
sciffusion ood score --detector det_auto37 --data $N/test.npz --out s_auto37.csv
python /work/main/docs/ood_run21/newsets/by_kind.py s_auto37.csv
python /work/main/docs/ood_run21/newsets2/make_sets2.py
sciffusion ood score --detector det_auto37 --data test2.npz --out s2_auto37.csv
python - <<'PY'
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
kinds = np.load("kinds2.npy").astype(str); y = (kinds != "normal").astype(int)
t = pd.read_csv("s2_auto37.csv")
for col in ["score", "features", "predictive", "pixels", "statistics"]:
    out = [roc_auc_score(y, t[col])] + [roc_auc_score(y[(kinds == "normal") | (kinds == k)], t[col][(kinds == "normal") | (kinds == k)]) for k in ["fast", "dim", "noisy"]]
    print(f"{col:11s} all {out[0]:.3f}  fast {out[1]:.3f}  dim {out[2]:.3f}  noisy {out[3]:.3f}")
PY
