"""Scratch: a bench run's per-input driving scores (old test store, old rule) re-read with the in-view
labels of the regenerated store (same video): AUROC per method on the clips both protocols keep."""
import sys, numpy as np, pandas as pd
from sciffusion.pipelines.bench.ood import _store_clips
from sciffusion.common.anomaly.metrics import auroc, auroc_by_kind
old = _store_clips("runs/data/driving_train.zarr", 10)
new = _store_clips("runs/data/driving_test_v2.zarr", 10)
assert np.array_equal(old.video, new.video)
old_keep = np.where(old.evaluable())[0]
scores = pd.read_csv(sys.argv[1])
assert len(scores) == len(old_keep)
both = new.evaluable()[old_keep]
print("old kept", len(old_keep), "new kept", int(new.evaluable().sum()), "both", int(both.sum()),
      "new-only (no score)", int((new.evaluable() & ~old.evaluable()).sum()))
idx = old_keep[both]
y, kinds = new.flags[idx].max(1), new.kinds[idx]
print("anomalous", int(y.sum()), {k: int((kinds == k).sum()) for k in set(kinds)})
for col in scores.columns[3:]:
    s = scores[col].to_numpy()[both]
    print(f"{col:24s} AUROC {auroc(s, y):.4f}", {k: round(v, 3) for k, v in auroc_by_kind(s, y, kinds).items()})
