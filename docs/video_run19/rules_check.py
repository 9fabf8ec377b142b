import sys, numpy as np, zarr
from sciffusion.domains.video.event_rules import rule_rate
g = zarr.open("driving_cls_test.zarr", mode="r")
for key in ("cut_in", "ego_collision"):
    lab = g["labels"][key][...]
    w = []
    for c in np.flatnonzero(lab.any(1)):
        f = int(np.flatnonzero(lab[c])[0]); s = max(0, min(f - 5, 10)); w.append(g["video"][c, s:s+10])
    print("real", key, round(rule_rate(w, key), 3))
ev = np.stack([g["labels"][k][...] for k in ("cut_in", "ego_collision", "near_miss", "other_collision")]).any(0).any(1)
n = g["video"][np.flatnonzero(~ev)[:300], :10]
print("event-free", rule_rate(n, "cut_in"), rule_rate(n, "ego_collision"))
for s in sys.argv[1:]:
    v = zarr.open(s + "/clips.zarr", mode="r")["video"][:, :10]
    print(s, "cut_in", round(rule_rate(v, "cut_in"), 3), "ego_collision", round(rule_rate(v, "ego_collision"), 3))
