import sys, glob, numpy as np, zarr
from sciffusion.domains.video.event_rules import cut_in_seen, pop_ins_per_frame
for pat in sys.argv[1:]:
    clips = []
    for d in sorted(glob.glob(pat)):
        clips.extend(np.asarray(zarr.open_group(d + "/clips.zarr", mode="r")["video"][:]))
    for name, sl in (("frames 0-9", slice(0, 10)), ("frames 5-14", slice(5, 15))):
        sub = [c[sl] for c in clips]
        print(f"{pat} {name}: n={len(sub)} cut-in rule {np.mean([cut_in_seen(c) for c in sub]):.3f} pop-ins {pop_ins_per_frame(sub):.3f}")
