"""A pixel rule for cut-ins, independent of any learned classifier (the simulator's rule, read off pixels):
a blue (other) vehicle whose centre is inside the ego's lane (between the two lane lines around the green
ego) and 0-AHEAD px ahead in frame t, while within DX px of its x in frame t-1 there was no vehicle in the
ego lane but one in a neighbouring lane, and the ego lane's lines did not jump (the ego kept its lane).
usage: lane_probe.py [STORE ...] (real windows: driving_cls_test.zarr, 10 frames from 5 before each cut-in
onset, and event-free clips at frame 0)."""
import sys
import numpy as np
import zarr
from scipy import ndimage

AHEAD, DX = 38, 6  # 30 m of a 50 m view in 64 px


def masks(v):
    v = v.astype(int)
    r, g, b = v[..., 0], v[..., 1], v[..., 2]
    green = (g > 110) & (r < 120) & (b < 120) & (g - r > 40)
    blue = (b > 150) & (b - r > 50)
    lines = (v.min(-1) > 130) & ((v.max(-1) - v.min(-1)) < 30)
    return green, blue, lines


def frame_state(green, blue, lines):
    """(ego x, ego lane (lo, hi) rows, [(x, y, lane offset)] of blue blobs) or None."""
    ys, xs = np.nonzero(green)
    rows = np.flatnonzero(lines.sum(1) > 12)
    if len(ys) == 0 or len(rows) < 2:
        return None
    ye, xe = ys.mean(), xs.mean()
    below, above = rows[rows <= ye], rows[rows > ye]
    if not len(below) or not len(above):
        return None
    lo, hi = below.max(), above.min()
    width = max(hi - lo, 3)
    lab, n = ndimage.label(blue)
    blobs = []
    for y, x in ndimage.center_of_mass(blue, lab, range(1, n + 1)):
        lane = 0 if lo <= y <= hi else int(np.sign(y - ye) * np.ceil(min(abs(y - lo), abs(y - hi)) / width))
        blobs.append((x - xe, y, lane))
    return xe, (lo, hi), blobs


def cut_in(clip):
    green, blue, lines = masks(clip)
    prev = None
    for t in range(len(clip)):
        s = frame_state(green[t], blue[t], lines[t])
        if s is not None and prev is not None and abs(s[1][0] - prev[1][0]) <= 2:
            for dx, y, lane in s[2]:
                if lane == 0 and 0 < dx <= AHEAD:
                    near = [l for pdx, py, l in prev[2] if abs(pdx - dx) <= DX]
                    if near and 0 not in near and any(abs(l) == 1 for l in near):
                        return True
        prev = s
    return False


def rate(clips):
    return float(np.mean([cut_in(c) for c in clips]))


if __name__ == "__main__":
    g = zarr.open("driving_cls_test.zarr", mode="r")
    ci = g["labels"]["cut_in"][...]
    ev = np.stack([g["labels"][k][...] for k in ("cut_in", "ego_collision", "near_miss")]).any(0).any(1)
    real_ci = []
    for c in np.flatnonzero(ci.any(1)):
        f = int(np.flatnonzero(ci[c])[0]); s = max(0, min(f - 5, 10))
        real_ci.append(g["video"][c, s:s + 10])
    normal = g["video"][np.flatnonzero(~ev)[:200], :10]
    print(f"real cut-in windows: {rate(real_ci):.2f} of {len(real_ci)}; real event-free clips: {rate(normal):.2f} of {len(normal)}")
    for s in sys.argv[1:]:
        v = zarr.open(s + "/clips.zarr", mode="r")["video"][:, :10]
        print(f"{s}: {rate(v):.2f} of {len(v)}")
