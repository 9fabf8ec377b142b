import time, torch
from sciffusion.common.anomaly.networks import DenoiserNetConfig
from sciffusion.common.training import DiffusionModule
from sciffusion.common.anomaly.detector import _default_train
torch.manual_seed(0)
net = DenoiserNetConfig((1, 28, 28)).build()
mod = DiffusionModule(net, _default_train())
mod.log = lambda *a, **k: None
opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
x = torch.randn(64, 1, 28, 28)
for bf16 in (False, True, False, True):
    ts = []
    for i in range(12):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = mod.training_step((x,), i)
        loss.backward(); opt.step(); opt.zero_grad()
        ts.append(time.perf_counter() - t)
    print("bf16" if bf16 else "fp32", sorted(ts)[2:10])
    print(sum(sorted(ts)[2:10]) / 8)
