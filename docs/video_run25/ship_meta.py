"""Twenty-seventh round (session 42): the lineage totals of the shipped SM-MNIST concat model, written by hand.
lu2 was fine-tuned from lu (session 41, 11,339 steps), itself fine-tuned from the session-15 file (4,648 steps)
before `video train` recorded lineage, so lu2's meta counts 11,339 + 10,494 and misses the 4,648 underneath.
Usage (beside the run folders): python ship_meta.py lu2/model.ckpt OUT.pt"""
import sys

import torch

SESSION15_STEPS = 4648
src, out = sys.argv[1], sys.argv[2]
saved = torch.load(src, map_location="cpu", weights_only=False)
meta = saved["meta"]
meta["init_from"]["total_steps"] = SESSION15_STEPS + meta["init_from"]["step"]
meta["total_steps"] = meta["init_from"]["total_steps"] + meta["step"]
meta["lineage_note"] = ("bundled video_smmnist_concat.pt of session 15 (4,648 steps) -> docs/video_run24/smm_lu.yaml "
                        "(11,339 steps, sigma log-uniform on [0.01, 80]) -> docs/video_run25/smm_lu2.yaml (10,494 "
                        "steps, same levels); session 42, totals rewritten by hand (lu ran before lineage was "
                        "recorded)")
torch.save(saved, out)
print(out, "total_steps", meta["total_steps"])
