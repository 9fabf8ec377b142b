"""Scratch: per-frame position maps of the bundled driving prediction model for the (c) protocol."""
import sys, time
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from sciffusion.pipelines.bench.ood import OODBenchConfig, driving_set, model_inputs
from sciffusion.common.anomaly import DiffusionAnomalyDetector
from sciffusion.pipelines.ood.fit import adopt_start, detector_settings, resolve_score, start_for
from sciffusion.common.anomaly.embedding import embed
from sciffusion.common.anomaly.networks import feature_layer, shallow_layer

R = Path("/work/runs33")
model = sys.argv[1] if len(sys.argv) > 1 else "/work/main/domains/video/data/video_driving_predict.pt"
tag = sys.argv[2] if len(sys.argv) > 2 else "predict"
cfg = OODBenchConfig(out=Path("/tmp/x"), datasets=("driving",), score="features", minutes=1, max_steps=1,
                     driving_stores=(R / "driving_train600.zarr", R / "driving_cls_test.zarr"),
                     model=Path(model), seed=0)
data = driving_set(cfg)
np.savez("/work/runs34/labels.npz", labels=data.labels, kinds=data.kind_of_each(), frame_labels=data.frame_labels)
x = model_inputs(data.train)
kind = resolve_score(cfg.score, tuple(x.shape[1:]), cfg.context_frames, cfg.target_frames)
settings = detector_settings(kind, cfg.levels, cfg.sigma_min, cfg.sigma_max, cfg.density, minutes=cfg.minutes,
                             max_steps=cfg.max_steps, batch_size=cfg.batch_size, seed=cfg.seed, patch_bank=cfg.patch_bank,
                             context_frames=cfg.context_frames, target_frames=cfg.target_frames, positions=cfg.positions,
                             whole_input=cfg.whole_input, max_side=cfg.max_side)
begin = start_for(cfg.model, tuple(x.shape[1:]), settings, cfg.base_channels)
settings = adopt_start(settings, begin)
det = DiffusionAnomalyDetector(config=settings)
det.fit(x[:24], net_config=begin.net_config, init_state=begin.state)
net = det.module_.ema.shadow
denoise, layer, shallow = det.denoiser(), feature_layer(net), shallow_layer(net)
sigmas = det.config.score.feature_sigmas()
print("sigmas", sigmas, flush=True)

def run(pix, name):
    xs = torch.from_numpy(model_inputs(pix))
    out = []
    t0 = time.time()
    with torch.inference_mode():
        for i, chunk in enumerate(torch.split(xs, 16)):
            e = embed(denoise, layer, chunk, sigmas, shallow=shallow)
            out.append(e.positions.half().numpy())
            if i % 10 == 0:
                print(name, i * 16, time.time() - t0, flush=True)
    arr = np.concatenate(out)
    np.save(f"/work/runs34/pos_{tag}_{name}.npy", arr)
    print(name, arr.shape, e.position_grid, flush=True)

run(data.train, "train")
run(data.test, "test")
