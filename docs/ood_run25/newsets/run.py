"""Twenty-sixth round (session 41): the two sets of anomalies the issue does not name (missing and extra digits,
docs/ood_run20/newsets/make_sets.py; fast, dim and noisy clips, docs/ood_run21/newsets2/make_sets2.py) under the
ensemble's combination rules, on one fit: `sciffusion ood fit` with its defaults (10 minutes, `auto`, softmax
since session 40) run in-process so the fitted detector's members' held-out scores are at hand, then `ood score`
on both test sets, then every rule read through `EnsembleDetector.recombined` (the same members, calibration
refitted on the same held-out member scores) from the member columns of the score tables.
Run in an empty folder: python run.py  (about 15 minutes on one core)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import sciffusion.common.anomaly as anomaly
from sciffusion.cli.main import app

REPO = Path(__file__).resolve().parents[3]
for script in ("docs/ood_run20/newsets/make_sets.py", "docs/ood_run21/newsets2/make_sets2.py"):
    subprocess.run([sys.executable, str(REPO / script)], check=True)

made = []
make = anomaly.make_detector
anomaly.make_detector = lambda settings: made.append(make(settings)) or made[-1]
app(["ood", "fit", "--data", "train.npz", "--out", "det", "--minutes", "10", "--max-steps", "100000"],
    standalone_mode=False)
det = next(d for d in made if isinstance(d, anomaly.EnsembleDetector))  # members may be made through it too
print("density", det.config.calibration.density, flush=True)
results = {}
for test, kinds_file, kinds in [("test.npz", "kinds.npy", ["three_digits", "one_digit"]),
                                ("test2.npz", "kinds2.npy", ["fast", "dim", "noisy"])]:
    table_path = f"scores_{Path(test).stem}.csv"
    app(["ood", "score", "--detector", "det", "--data", test, "--out", table_path], standalone_mode=False)
    table = pd.read_csv(table_path)
    members = [c for c in table.columns if c not in ("id", "score", "score_normalised", "label_pred")]
    names = np.load(kinds_file, allow_pickle=True).astype(str)
    y = (names != "normal").astype(int)
    columns = {"ood score (default)": table["score"].to_numpy()}
    for density in ("softmax", "max", "mean"):
        columns[density] = det.recombined(density).calibration_.score(table[members].to_numpy())
    columns.update({m: table[m].to_numpy() for m in members})
    for name, s in columns.items():
        row = {"all": roc_auc_score(y, s)}
        for kind in kinds:
            keep = (names == "normal") | (names == kind)
            row[kind] = roc_auc_score(y[keep], s[keep])
        results.setdefault(test, {})[name] = row
        print(f"{test:9s} {name:20s} " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
Path("auroc.json").write_text(json.dumps(results, indent=1))
