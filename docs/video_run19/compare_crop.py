"""Road strip (rows 16-47) of clips the judge flipped to EVENT: plain CFG 8 (top), with the guide (middle),
3 x |difference| (bottom); x2. usage: compare_crop.py BASE GUIDED EVENT_IDX OUT.png [N]"""
import sys, numpy as np, zarr
from PIL import Image
b, g, ev, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 4
pb, pg = np.load(f"pred_{b}.npy"), np.load(f"pred_{g}.npy")
vb = zarr.open(f"gen_{b}/clips.zarr", mode="r")["video"][:, :10, 16:48]
vg = zarr.open(f"gen_{g}/clips.zarr", mode="r")["video"][:, :10, 16:48]
flip = np.flatnonzero((pb != ev) & (pg == ev))[:n]
rows = []
for i in flip:
    d = np.clip(np.abs(vb[i].astype(int) - vg[i].astype(int)) * 3, 0, 255).astype(np.uint8)
    for v in (vb[i], vg[i], d):
        rows.append(np.concatenate([np.pad(f, ((0, 0), (0, 1), (0, 0)), constant_values=255) for f in v], 1))
    rows.append(np.full((3, rows[-1].shape[1], 3), 255, np.uint8))
img = Image.fromarray(np.concatenate(rows, 0))
img.resize((img.width * 2, img.height * 2), Image.NEAREST).quantize(256, method=Image.Quantize.MAXCOVERAGE).save(out, optimize=True)
print(out, "clips", flip.tolist())
