"""Scratch control: the same position features on an untrained (freshly initialised) network."""
import sys, runpy, torch
from sciffusion.common.anomaly import DiffusionAnomalyDetector
orig = DiffusionAnomalyDetector.load
def load_untrained(path, *a, **k):
    det = orig(path, *a, **k)
    torch.manual_seed(0)
    fresh = det.net_config_.build()
    det.module_.ema.shadow.load_state_dict(fresh.state_dict())
    det.module_.net.load_state_dict(fresh.state_dict())
    return det
DiffusionAnomalyDetector.load = staticmethod(load_untrained)
runpy.run_path("docs/ood_run8/pos_lib.py", run_name="__main__")
