"""When do crashed (red) vehicles appear in generated collision clips, and in real collision windows?
Red pixels per frame (the carcount.py rule), and how many clips are red from frame 1, turn red later, or never.
Run from /work/runs30: python onset_probe.py gen_cw3_collision gen_cw3_f4_collision ... (real windows from
driving_cls_test.zarr: 10 frames starting 5 before each of the first 40 ego-collision onsets, clamped)."""
import sys

import numpy as np
import zarr


def red(v):
    v = np.asarray(v).astype(int)
    sat = v.max(-1) - v.min(-1)
    return ((v[..., 0] > 180) & (v[..., 1] < 120) & (sat > 60)).sum((-1, -2))


def line(name, r):
    first, later, never = (r[:, 0] > 3).sum(), ((r[:, 0] <= 3) & (r[:, 1:].max(1) > 3)).sum(), (r.max(1) <= 3).sum()
    print(f"{name}: red px per frame {np.round(r.mean(0), 1).tolist()}; clips red from frame 1: {first}, "
          f"later: {later}, never: {never} (of {len(r)})")


for name in sys.argv[1:]:
    line(name, red(zarr.open(name + "/clips.zarr", mode="r")["video"][:, :10]))
g = zarr.open("driving_cls_test.zarr", mode="r")
onsets = g["labels"]["ego_collision"][...]
windows = []
for c in np.flatnonzero(onsets.any(1))[:40]:
    f = int(np.flatnonzero(onsets[c])[0])
    s = max(0, min(f - 5, g["video"].shape[1] - 10))
    windows.append(red(g["video"][c, s:s + 10]))
line("real collision windows (driving_cls_test.zarr)", np.array(windows))
