"""Scratch: the library's position features on a fitted features detector (rebuilds its bank with them)."""
import sys, numpy as np, torch, time
from sklearn.metrics import roc_auc_score
from sciffusion.common.anomaly import DiffusionAnomalyDetector
from sciffusion.common.anomaly.embedding import build_bank, feature_knn
from sciffusion.common.anomaly.networks import feature_layer, shallow_layer
from sciffusion.pipelines.bench.ood import model_inputs
torch.set_grad_enabled(False)
det = DiffusionAnomalyDetector.load(sys.argv[1] + "/detector.pt"); pre = sys.argv[2]
key = "images" if pre.startswith("mnist") else "clips"
tr = torch.from_numpy(model_inputs(np.load(f"runs/protocol_exp/{pre}_train.npz")[key][..., None] if key == "images" else np.load(f"runs/protocol_exp/{pre}_train.npz")[key]))
te = np.load(f"runs/protocol_exp/{pre}_test.npz"); y = te["label"]; kinds = te["kind"]
x = torch.from_numpy(model_inputs(te[key][..., None] if key == "images" else te[key]))
net = det.module_.ema.shadow; c = det.config.score; den = det.denoiser()
t = time.time()
from sciffusion.common.anomaly.score_config import patch_bank_for
bank = build_bank(den, feature_layer(net), tr[200:], c.feature_sigmas(), 64, c.bank_size, patch_bank_for(c, tuple(tr.shape[1:])), 0, shallow=shallow_layer(net))
print("bank", time.time() - t, "s; positions", tuple(bank.positions.mean.shape))
def score(v):
    return torch.cat([feature_knn(den, feature_layer(net), ch, c.feature_sigmas(), bank, c.neighbours, shallow=shallow_layer(net)).features
                      for ch in torch.split(v, 64)]).numpy()
s = score(x); cal = score(tr[:200])
names = [f"f{j}" for j in range(s.shape[1])]
def pk(v):
    return {k[:5]: round(roc_auc_score(np.r_[np.zeros((y == 0).sum()), np.ones((kinds == k).sum())], np.r_[v[y == 0], v[kinds == k]]), 3)
            for k in sorted(set(kinds[y == 1]))}
for j, n in enumerate(names):
    print(n, round(roc_auc_score(y, s[:, j]), 4), pk(s[:, j]))
z = (s - cal.mean(0)) / cal.std(0)
F = s.shape[1]
for label, v in [("mean all", z.mean(1)), ("max all", z.max(1)), ("mean without pos", z[:, :F - 2].mean(1)),
                 ("mean pos", z[:, F - 2:].mean(1))]:
    print(label, round(roc_auc_score(y, v), 4), pk(v))
