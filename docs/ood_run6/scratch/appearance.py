"""Scratch: per-kind AUROC of the predictive detector on (b), and its blind spot: appearance anomalies
present in every frame (a static bright square; a moving square in place of a digit)."""
import numpy as np, torch, json
from pathlib import Path
from sciffusion.pipelines.bench.ood import OODBenchConfig, smmnist_set, model_inputs
from sciffusion.pipelines.ood.fit import detector_config
from sciffusion.common.anomaly import DiffusionAnomalyDetector, DenoiserNetConfig
from sciffusion.common.anomaly.metrics import detection_metrics
cfg = OODBenchConfig(out=Path("/tmp/x"), datasets=("smmnist",))
data = smmnist_set(cfg)
x = model_inputs(data.train)
det = DiffusionAnomalyDetector(config=detector_config("predictive", minutes=10, max_steps=100000))
det.fit(x, net_config=DenoiserNetConfig(tuple(x.shape[1:])))
det.save("/work/scratch/det_smmnist_pred.pt")
s = det.decision_function(model_inputs(data.test))
kinds = np.array(["normal"] * 200 + [("teleport", "freeze", "reverse")[i % 3] for i in range(200, 400)])
out = {"all": detection_metrics(s, data.labels).auroc}
for k in ("teleport", "freeze", "reverse"):
    m = (kinds == "normal") | (kinds == k)
    out[k] = detection_metrics(s[m], (kinds[m] != "normal").astype(int)).auroc
# appearance anomalies on the normal test clips
normal = data.test[:200].copy()
rng = np.random.default_rng(0)
static = normal.copy()
for c in static:
    y, x0 = rng.integers(0, 26, 2); c[:, y:y + 6, x0:x0 + 6] = 255
moving = normal.copy()
for c in moving:
    y, x0 = rng.integers(0, 26, 2); dy, dx = rng.integers(-2, 3, 2)
    for t in range(len(c)):
        yy, xx = np.clip(y + dy * t, 0, 26), np.clip(x0 + dx * t, 0, 26); c[t, yy:yy + 6, xx:xx + 6] = 255
for name, bad in (("static_square", static), ("moving_square", moving)):
    sb = det.decision_function(model_inputs(bad))
    out[name] = detection_metrics(np.r_[s[:200], sb], np.r_[np.zeros(200), np.ones(200)]).auroc
print(json.dumps(out, indent=1))
