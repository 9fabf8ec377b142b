"""A training store with more distinct event clips: every clip of BASE plus the clips of EXTRA that hold an
event (ego/other collision, cut-in, near-miss) on any frame; EXTRA's episode ids are shifted by 10,000 so the
episode-wise validation split (episode % val_every == 0) stays as it was and the two sets share no episode.
python merge_events.py BASE.zarr EXTRA.zarr OUT.zarr"""
import sys

import numpy as np

from sciffusion.common.io.atomic import atomic_path
from sciffusion.domains.video.zarr_store import open_video_store, write_video_store

EVENTS = ("ego_collision", "other_collision", "cut_in", "near_miss")
base, extra = open_video_store(sys.argv[1]), open_video_store(sys.argv[2])
held = np.zeros(extra.num_clips, bool)
for name in EVENTS:
    held |= np.asarray(extra.labels[name][...]).reshape(extra.num_clips, -1).astype(bool).any(1)
pick = np.flatnonzero(held)
labels = {}
for name in base.labels:
    a, b = np.asarray(base.labels[name][...]), np.asarray(extra.labels[name][...])[pick]
    labels[name] = np.concatenate([a, b + 10_000 if name == "episode" else b])
video = np.concatenate([np.asarray(base.video[...]), np.asarray(extra.video[...])[pick]])
attrs = {k: v for k, v in base.attrs.items() if k not in ("format", "kind", "class_balance")}
attrs.update(split="train", merged_from=[sys.argv[1], sys.argv[2]], extra_event_clips=int(len(pick)))
with atomic_path(sys.argv[3]) as tmp:
    write_video_store(tmp, video, attrs, labels)
counts = {n: int(np.asarray(labels[n]).reshape(len(video), -1).astype(bool).any(1).sum()) for n in EVENTS}
print(f"{sys.argv[3]}: {len(video)} clips ({base.num_clips} + {len(pick)} event clips); clips per event: {counts}")
