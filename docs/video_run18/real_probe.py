import numpy as np, torch
from sciffusion.domains.video.model import read_model_file
from sciffusion.domains.video.sampling import event_log_likelihoods
from sciffusion.domains.video.frames import to_unit_range
from sciffusion.domains.video.zarr_store import open_video_store
from sciffusion.pipelines.bench.video_label_response import event_windows
torch.set_grad_enabled(False)
model = read_model_file('/work/main/domains/video/data/video_driving.pt'); m = model.config
store = open_video_store('driving_cls_test.zarr', kind='dataset')
sig = torch.tensor([0.02, 0.06, 0.2, 0.6, 2.0])
for event, pairs in event_windows('driving_cls_test.zarr', store.num_clips, m.past_frames, m.frames, 32).items():
    clips = torch.stack([to_unit_range(torch.from_numpy(np.asarray(store.video[c, s:s + m.past_frames + m.frames]))) for c, s in pairs])
    ll = torch.cat([event_log_likelihoods(model, clips[i:i+16], [m.past_frames], sig, generator=torch.Generator().manual_seed(0)) for i in range(0, len(clips), 16)])
    print(event, len(pairs), np.bincount(ll.argmax(1).numpy(), minlength=4), flush=True)
