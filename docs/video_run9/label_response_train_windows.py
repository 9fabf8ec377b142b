"""Diagnostic: label response on TRAINING windows (the tool refuses the training store on purpose)."""
import torch, numpy as np, sys
from pathlib import Path
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.zarr_store import open_video_store
from sciffusion.domains.video.frames import to_unit_range
from sciffusion.pipelines.bench.video_label_response import event_windows, respond, format_table
torch.set_num_threads(1)
store = open_video_store("driving_train600.zarr")
rows = []
for name, path in (("bundled", "/work/main/domains/video/data/video_driving.pt"), ("mid", sys.argv[1])):
    m = read_model_file(path)
    for event, pairs in event_windows(Path("driving_train600.zarr"), store.num_clips, 2, 4, 20).items():
        if event == 0: continue
        clips = torch.stack([to_unit_range(torch.from_numpy(np.asarray(store.video[c, s:s + 6]))) for c, s in pairs])
        rows += [{"model": name, **r} for r in respond(m, clips, event, (0.3, 1.0, 3.0), 0, 16) if r["past"] == "visible"]
print(format_table(rows))
