"""Small training run used by test_ddp.py (run as a script so Lightning's plain "ddp" can launch it).

python train_script.py OUT.json --devices W --steps N: global batch 32 of a fixed 64-row dataset,
unshuffled; writes the per-step global-batch losses (rank 0).
"""
import json
import sys

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from sciffusion.common.training import DiffusionModule, LossHistory, TrainConfig
from sciffusion.common.training.trainer import release_process_group

GLOBAL_BATCH = 32


class MLP(nn.Module):
    def __init__(self, d: int = 8, h: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d + 1, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, d))

    def forward(self, x_in, c_noise, cond=None):
        return self.body(torch.cat([x_in, c_noise[:, None]], dim=1))


class FixedData(pl.LightningDataModule):
    """64 fixed rows, unshuffled. Lightning's automatic DistributedSampler always shuffles training
    data, so the sampler is ours: rank r reads rows r, r + W, … (the interleaving the module's noise
    slicing assumes), and the global batch equals the single-process batch."""

    def __init__(self, data: torch.Tensor, devices: int):
        super().__init__()
        self.data, self.devices = data, devices

    def train_dataloader(self):
        ds = TensorDataset(self.data)
        world, rank = self.trainer.world_size, self.trainer.global_rank
        sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=False)
        return DataLoader(ds, batch_size=GLOBAL_BATCH // world, sampler=sampler)


def main(out: str, devices: int, steps: int) -> None:
    torch.manual_seed(0)
    data = torch.randn(64, 8) * torch.linspace(0.2, 1.0, 8)
    net = MLP()
    module = DiffusionModule(net, TrainConfig(lr=1e-2, ema_decay=0.9, seed=7))
    history = LossHistory()
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                         max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[history], use_distributed_sampler=False)
    trainer.fit(module, datamodule=FixedData(data, devices))
    release_process_group()
    if trainer.global_rank == 0:
        with open(out, "w") as fh:
            json.dump({"steps": history.steps, "losses": history.losses, "world_size": trainer.world_size}, fh)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], int(args[args.index("--devices") + 1]), int(args[args.index("--steps") + 1]))
