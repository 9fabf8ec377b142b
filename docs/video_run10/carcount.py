"""Count 'other car' (blue), ego (green), crashed (red) pixels per frame in clip stores."""
import sys, zarr, numpy as np
def stats(v):
    v=np.asarray(v).astype(int)
    sat = v.max(-1)-v.min(-1)
    blue = (v[...,2]>180)&(v[...,0]<160)&(sat>60)
    green=(v[...,1]>150)&(v[...,0]<120)&(v[...,2]<100)
    red=(v[...,0]>180)&(v[...,1]<120)&(sat>60)
    return [round(float(x.sum((-1,-2)).mean()),2) for x in (blue,green,red)]
for p in sys.argv[1:]:
    try: g = zarr.open(p+'/clips.zarr',mode='r')['video']
    except Exception: g = zarr.open(p,mode='r')['video']
    print(p, stats(g[:, :10]))
