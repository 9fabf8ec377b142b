"""Side by side: baseline vs guided clips that the judge flipped. usage: compare.py BASE GUIDED EVENT_IDX OUT.png"""
import sys, numpy as np, zarr
from PIL import Image
b, g, ev, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pb, pg = np.load(f"pred_{b}.npy"), np.load(f"pred_{g}.npy")
vb = zarr.open(f"gen_{b}/clips.zarr", mode="r")["video"][:, :10]
vg = zarr.open(f"gen_{g}/clips.zarr", mode="r")["video"][:, :10]
flip = np.flatnonzero((pb != ev) & (pg == ev))
d = np.abs(vb.astype(int) - vg.astype(int))
print("flipped clips", flip.tolist(), "of", len(pb))
print("mean |diff| per clip (0-255):", np.round(d.mean((1, 2, 3, 4)), 2).tolist())
print("pixels changed >40 per frame, flipped clips:", [int((d[i].max(-1) > 40).sum() / 10) for i in flip])
rows = []
for i in flip[:6]:
    top = np.concatenate(list(vb[i]), 1); mid = np.concatenate(list(vg[i]), 1)
    dd = np.concatenate(list(np.clip(d[i] * 3, 0, 255).astype(np.uint8)), 1)
    rows += [top, mid, dd, np.full((4, top.shape[1], 3), 255, np.uint8)]
img = Image.fromarray(np.concatenate(rows, 0))
img = img.resize((img.width * 3, img.height * 3), Image.NEAREST)
img.save(out)
