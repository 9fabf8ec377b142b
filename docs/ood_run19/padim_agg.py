import sys, numpy as np, torch
exec(open("/work/runs34/padim_variants.py").read().split("modes = ")[0])
res = {}
for level in range(tr.shape[1]):
    mu, prec = fit(feats(tr, level, "frame"))
    dte = dist(feats(te, level, "frame"), mu, prec)  # [n, T, P]
    dtr = dist(feats(tr[:300], level, "frame"), mu, prec)
    torch.save({"te": dte.half(), "tr": dtr.half()}, f"/work/runs34/dist_{tag}_l{level}.pt")
    fl = dte.flatten(1)
    aggs = {"max": fl.amax(1)}
    for k in (3, 10, 30, 100):
        aggs[f"top{k}"] = fl.topk(k, 1).values.mean(1)
    pf = dte.amax(2)  # [n, T]
    aggs["frame_max_mean"] = pf.mean(1)
    aggs["frame_max_top3"] = pf.topk(3, 1).values.mean(1)
    aggs["l2"] = (fl ** 2).mean(1)
    for name, s in aggs.items():
        print(level, name, {k: round(v, 4) for k, v in auc_by_kind(s.numpy()).items()}, flush=True)
