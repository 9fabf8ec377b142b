import sys, glob, collections
import numpy as np, zarr
from sciffusion.domains.video import event_rules as er
from sciffusion.domains.video.datasets.driving import CUT_IN_RANGE_M

def stages(clip):
    ego, veh, lines = er.ego_mask(clip), er.vehicle_mask(clip), er.line_mask(clip)
    ahead = CUT_IN_RANGE_M * er._px_per_m(clip)
    track = er.TRACK_DX_M * er._px_per_m(clip)
    n_none = 0; jumps = 0; lane0 = []; entered = False; blocked_jump = False; from_far=False; nowas=False
    before = None
    for t in range(len(clip)):
        now = er._lanes(ego[t], veh[t], lines[t])
        if now is None: n_none += 1
        l0 = now is not None and any(l == 0 and 0 < dx <= ahead for dx, l in now[2])
        lane0.append(l0)
        if now is not None and before is not None:
            jump = abs(now[1] - before[1]) > er._LINE_JUMP_PX
            jumps += jump
            for dx, lane in now[2]:
                if lane == 0 and 0 < dx <= ahead:
                    was = [l for px, l in before[2] if abs(px - dx) <= track]
                    if was and 0 not in was and any(abs(l) == 1 for l in was):
                        if jump: blocked_jump = True
                        else: entered = True
                    elif was and 0 not in was: from_far = True
                    elif not was: nowas = True
        before = now
    return dict(none=n_none, jumps=jumps, lane0_any=any(lane0), lane0_first=lane0[0], lane0_frames=sum(lane0),
                rule=entered, blocked_jump=blocked_jump and not entered, from_far=from_far and not entered, nowas=nowas and not entered)

def report(name, clips):
    rows = [stages(c) for c in clips]
    n = len(rows)
    keys = rows[0].keys()
    print(f"{name}: n={n} " + " ".join(f"{k}={np.mean([float(r[k]) for r in rows]):.2f}" for k in keys))
    # categories for rule failures
    cat = collections.Counter()
    for r in rows:
        if r["rule"]: cat["rule"] += 1
        elif r["none"] >= 5: cat["unreadable(>=5 frames)"] += 1
        elif not r["lane0_any"]: cat["no vehicle in ego lane ahead"] += 1
        elif r["lane0_first"] and r["lane0_frames"] == 10 - r["none"]: cat["vehicle in lane all along"] += 1
        elif r["blocked_jump"]: cat["entry during line jump"] += 1
        elif r["from_far"]: cat["came from lane>=2"] += 1
        elif r["nowas"]: cat["appeared from nowhere"] += 1
        else: cat["other"] += 1
    print("   ", dict(cat))

for pat in sys.argv[1:]:
    clips = []
    for d in sorted(glob.glob(pat)):
        clips.extend(np.asarray(zarr.open_group(d + "/clips.zarr", mode="r")["video"][:]))
    report(pat, clips)

# real windows
g = zarr.open_group("/work/runs33/driving_cls_test.zarr", mode="r")
v = g["video"]; cut = np.asarray(g["labels/cut_in"][:])
wins = []
for i in np.flatnonzero(cut.max(1)):
    f = int(np.flatnonzero(cut[i])[0]); s = min(max(f - 5, 0), v.shape[1] - 10)
    wins.append(np.asarray(v[i, s:s + 10]))
report("real cut-in windows", wins)
normal = [np.asarray(v[i, :10]) for i in np.flatnonzero(cut.max(1) == 0)[:300]]
report("real clips without cut-in (300)", normal)
