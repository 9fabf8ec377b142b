"""Scratch: write the bench's (c) driving split as npz files (runs/protocol_exp/driving_{train,test}.npz) for ood fit / score and the scripts beside this one."""
import numpy as np
from pathlib import Path
from sciffusion.pipelines.bench.ood import OODBenchConfig, driving_set
cfg = OODBenchConfig(out=Path("x"), datasets=("driving",), seed=0,
                     driving_stores=(Path("runs/data/driving_train600.zarr"), Path("runs/data/driving_train.zarr")))
d = driving_set(cfg)
print(d.protocol)
np.savez("runs/protocol_exp/driving_train.npz", clips=d.train)
np.savez("runs/protocol_exp/driving_test.npz", clips=d.test, label=d.labels, kind=d.kinds, frame_labels=d.frame_labels)
