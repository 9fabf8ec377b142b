"""Scratch: translation-invariant pooled features for content anomalies in clips (smmnist-digits)."""
import sys, time, json
from pathlib import Path
import numpy as np, torch
from sciffusion.pipelines.bench.ood import OODBenchConfig, smmnist_digits_set, model_inputs
from sciffusion.common.anomaly import DiffusionAnomalyDetector, DenoiserNetConfig
from sciffusion.common.anomaly.embedding import capture_output
from sciffusion.common.anomaly.networks import feature_layer, shallow_layer
from sciffusion.common.anomaly.metrics import detection_metrics
from sciffusion.pipelines.ood.fit import detector_settings

minutes = float(sys.argv[1]); base = int(sys.argv[2]); batch = int(sys.argv[3]); out = Path(sys.argv[4])
out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)
cfg = OODBenchConfig(out=out, datasets=("smmnist-digits",))
data = smmnist_digits_set(cfg)
x, xt = torch.as_tensor(model_inputs(data.train)), torch.as_tensor(model_inputs(data.test))
settings = detector_settings("features", None, None, None, None, minutes=minutes, max_steps=100000,
                             batch_size=batch, seed=0, patch_bank=None, context_frames=3, target_frames=1,
                             positions=None, whole_input=True)
det = DiffusionAnomalyDetector(config=settings)
t = time.time()
det.fit(x, net_config=DenoiserNetConfig(tuple(x.shape[1:]), base_channels=base))
print("fit", time.time() - t, "steps", det.fit_report_.steps, flush=True)
det.save(out / "detector.pt")
raw = det.score_samples(xt)
res = {n: detection_metrics(raw.features[:, j].numpy(), data.labels).auroc for j, n in enumerate(raw.names)}
res["calibrated"] = detection_metrics(det.calibration_.score(raw.features.numpy()), data.labels).auroc
net = det.module_.ema.shadow; denoise = det.denoiser()
sig = det.config.score.feature_sigmas()

@torch.no_grad()
def feats(xx):
    outs = {}
    with capture_output(feature_layer(net)) as deep, capture_output(shallow_layer(net)) as sh:
        for chunk in torch.split(xx, 128):
            per = {}
            for li, s in enumerate(sig):
                denoise(chunk, s.expand(len(chunk)))
                d, e = deep.pop("out").float(), sh.pop("out").float()
                for name, v in (("deep_avg", d.mean((-2, -1))), ("deep_max", d.amax((-2, -1))),
                                ("sh_avg", e.mean((-2, -1))), ("sh_max", e.amax((-2, -1))),
                                ("deep_gram", torch.einsum("bcp,bdp->bcd", d.flatten(2), d.flatten(2)).flatten(1) / d[0,0].numel()),
                                ("sh_std", e.flatten(2).std(-1))):
                    per.setdefault(f"{name}_{li}", []).append(v)
            for k, v in per.items():
                outs.setdefault(k, []).append(torch.cat(v, 1) if False else v[0])
    return {k: torch.cat(v) for k, v in outs.items()}

ftr, fte = feats(x), feats(xt)
def knn(a, b, k=5, normalise=True):
    if normalise:
        a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    else:
        mu, sd = b.mean(0), b.std(0) + 1e-6
        a, b = (a - mu) / sd, (b - mu) / sd
    return torch.cdist(a, b).topk(k, largest=False).values.mean(1).numpy()
for k in fte:
    for norm in (True, False):
        res[f"{k}_{'unit' if norm else 'z'}"] = detection_metrics(knn(fte[k], ftr[k], normalise=norm), data.labels).auroc
for k, v in sorted(res.items(), key=lambda kv: -kv[1]):
    print(f"{v:.4f}  {k}")
(out / "res.json").write_text(json.dumps(res, indent=1))
