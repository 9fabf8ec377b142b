"""The smallest denoiser network the training tests fit: ``net(x_in [B, 2], c_noise [B], cond) -> [B, 2]``."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class TinyDenoiserNet(nn.Module):
    """One linear layer over ``[x_in, c_noise]``: enough for Lightning to take optimizer steps in tests."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(3, 2)

    def forward(self, x_in: Tensor, c_noise: Tensor, cond: object = None) -> Tensor:
        return self.body(torch.cat([x_in, c_noise[:, None]], dim=1))


__all__ = ["TinyDenoiserNet"]
