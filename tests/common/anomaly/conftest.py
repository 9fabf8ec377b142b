"""Shared test networks and clips for the feature-bank, position and pixel scores."""
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


def square_motion(n, backwards, g, frames=5, size=16):
    """[n, 1, T, H, W] in [-1, 1]: a bright 3 x 3 square crossing row 6 rightwards (backwards: the same
    frames in reverse order, leftwards), from a random column."""
    clips = -torch.ones(n, 1, frames, size, size)
    for i in range(n):
        start = int(torch.randint(0, size - 3 - 2 * frames + 1, (1,), generator=g))
        for t in range(frames):
            col = start + 2 * (frames - 1 - t if backwards else t)
            clips[i, 0, t, 6:9, col:col + 3] = 1.0
    return clips


@pytest.fixture(scope="session")
def motion_clips():
    """``motion_clips(n, backwards, generator)`` → :func:`square_motion` clips: every frame of a backwards
    clip looks normal, only the motion differs."""
    return square_motion
