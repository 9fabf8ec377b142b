"""A pixel rule for ego collisions: a crashed (red) vehicle within R px of the green ego's centre in some
frame (the simulator paints the other vehicle of a crash red; the ego stays green). usage: ego_probe.py [STORE ...]
(real: driving_cls_test.zarr, 10 frames from 5 before each ego-collision onset; other-collision windows the
same way; event-free clips at frame 0)."""
import sys
import numpy as np
import zarr

R = 8.0


def red_mask(v):
    v = np.asarray(v).astype(int)
    sat = v.max(-1) - v.min(-1)
    return (v[..., 0] > 180) & (v[..., 1] < 120) & (sat > 60)


def green_mask(v):
    v = np.asarray(v).astype(int)
    return (v[..., 1] > 140) & (v[..., 0] < 120) & (v[..., 2] < 120)


def ego_crash(clip):
    red, green = red_mask(clip), green_mask(clip)
    for t in range(len(clip)):
        gy, gx = np.nonzero(green[t])
        ry, rx = np.nonzero(red[t])
        if len(gy) and len(ry) and (np.hypot(ry - gy.mean(), rx - gx.mean()) <= R).sum() >= 3:
            return True
    return False


def rate(clips):
    return float(np.mean([ego_crash(c) for c in clips]))


def windows(g, key, limit=200):
    lab = g["labels"][key][...]
    out = []
    for c in np.flatnonzero(lab.any(1))[:limit]:
        f = int(np.flatnonzero(lab[c])[0]); s = max(0, min(f - 5, lab.shape[1] - 10))
        out.append(g["video"][c, s:s + 10])
    return out


if __name__ == "__main__":
    g = zarr.open("driving_cls_test.zarr", mode="r")
    ego = g["labels"]["ego_collision"][...].any(1)
    other = [w for w, c in zip(windows(g, "other_collision"), np.flatnonzero(g["labels"]["other_collision"][...].any(1)))
             if not ego[c]]
    ev = np.stack([g["labels"][k][...] for k in ("cut_in", "ego_collision", "near_miss", "other_collision")]).any(0).any(1)
    print(f"real ego-collision windows: {rate(windows(g, 'ego_collision')):.2f}; other-collision only: "
          f"{rate(other):.2f} of {len(other)}; event-free clips: {rate(g['video'][np.flatnonzero(~ev)[:200], :10]):.2f}")
    for s in sys.argv[1:]:
        print(f"{s}: {rate(zarr.open(s + '/clips.zarr', mode='r')['video'][:, :10]):.2f}")
