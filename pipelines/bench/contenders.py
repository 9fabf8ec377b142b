"""What the sampler benchmark runs: one :class:`Contender` per (library, sampler, grid)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import Tensor

Track = Literal["same-grid", "own-grid"]
TRACKS: tuple[Track, ...] = ("same-grid", "own-grid")
LIBRARIES = ("sciffusion", "k-diffusion", "diffusers")

BenchDenoiser = Callable[[Tensor, object], Tensor]
"""``denoise(x [N, d], sigma)`` with σ a float, 0-d or [N] tensor; each call is one NFE."""

SampleFn = Callable[[BenchDenoiser, Tensor, torch.Generator], Tensor]
"""``sample(denoise, x_init, generator) -> x`` at σ = 0 for a fixed number of steps (bound by
:meth:`Contender.bind`). ``x_init = σ_max z`` with the shared z."""


def same_steps(budget: int) -> int:
    return budget


@dataclass(frozen=True)
class Contender:
    """A sampler as benchmarked. ``make(steps)`` returns the sample function for a grid of ``steps``
    steps; ``tracks`` are the tracks its rows are reported in; ``adaptive`` samplers choose their
    own NFE (run once, reported at the NFE they used)."""

    library: str
    name: str
    make: Callable[[int], SampleFn]
    deterministic: bool
    tracks: tuple[Track, ...] = TRACKS
    steps_for_nfe: Callable[[int], int] = same_steps
    adaptive: bool = False

    def __post_init__(self) -> None:
        if self.library not in LIBRARIES:
            raise ValueError(f"library: unknown {self.library!r} (choose {', '.join(LIBRARIES)})")
        if not self.tracks or any(t not in TRACKS for t in self.tracks):
            raise ValueError(f"{self.name}: tracks must be a non-empty subset of {TRACKS}, got {self.tracks}")


def grid_for(steps: int, sigma_min: float, sigma_max: float, rho: float) -> Tensor:
    """The shared Karras grid (k-diffusion's formula and float32), trailing 0 included."""
    from sciffusion.common.grids import karras_grid

    return karras_grid(steps, sigma_min, sigma_max, rho, dtype=torch.float32)

