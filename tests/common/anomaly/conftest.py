"""Shared test networks for the feature-bank and position scores."""
import pytest
import torch
from torch import nn


class ConvToy(nn.Module):
    """D(x, σ) = x; the feature layer (and shallow layer) is a fixed random 3x3 convolution (local structure)."""

    def __init__(self, channels: int):
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Conv2d(1, channels, 3, padding=1)

    def forward(self, x, sigma):
        self.layer(x)
        return x


@pytest.fixture
def conv_toy():
    """``conv_toy(channels)`` → a :class:`ConvToy` with that many feature channels."""
    return ConvToy
