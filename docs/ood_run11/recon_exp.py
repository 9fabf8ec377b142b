import sys, torch, numpy as np
from pathlib import Path
from sciffusion.pipelines.bench.ood import OODBenchConfig, smmnist_digits_set, model_inputs
from sciffusion.common.anomaly import DiffusionAnomalyDetector
from sciffusion.common.anomaly.score_config import ScoreConfig, compute_scores
from sciffusion.common.anomaly.metrics import detection_metrics
torch.set_num_threads(1)
det = DiffusionAnomalyDetector.load(sys.argv[1])
data = smmnist_digits_set(OODBenchConfig(out=Path("x"), datasets=("smmnist-digits",)))
xt = torch.as_tensor(model_inputs(data.test))
den = det.denoiser()
for kind in ("recon", "msma", "path"):
    cfg = ScoreConfig(kind=kind, levels=6, sigma_min=0.05, sigma_max=2.0)
    parts = [compute_scores(den, c, cfg, generator=torch.Generator().manual_seed(0)) for c in torch.split(xt, 100)]
    f = torch.cat([p.features for p in parts]).numpy(); s = torch.cat([p.score for p in parts]).numpy()
    print(kind, "scalar", round(detection_metrics(s, data.labels).auroc, 4),
          [f"{n}:{detection_metrics(f[:, j], data.labels).auroc:.3f}" for j, n in enumerate(parts[0].names)], flush=True)
