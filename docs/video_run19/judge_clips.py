"""Per-clip judge predictions for generated stores. usage: judge_clips.py CLASSIFIER STORE[,STORE..] OUT.npy"""
import sys, numpy as np, torch, zarr
from sciffusion.pipelines.bench.event_classifier import load_event_classifier
from sciffusion.domains.video.frames import to_unit_range
clf, _ = load_event_classifier(sys.argv[1])
preds = []
with torch.no_grad():
    for s in sys.argv[2].split(','):
        v = zarr.open(s + '/clips.zarr', mode='r')['video'][:, :10]
        for i in range(0, len(v), 32):
            preds.append(clf(to_unit_range(torch.from_numpy(v[i:i+32]))).argmax(1).numpy())
np.save(sys.argv[3], np.concatenate(preds))
print(np.bincount(np.concatenate(preds), minlength=4))
