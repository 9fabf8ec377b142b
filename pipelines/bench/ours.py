"""sciffusion's own samplers as benchmark contenders: every registered sampler on the shared
Karras grid (both tracks), and the deterministic ones again on our designed grid (own-grid track)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from sciffusion.common.samplers.registry import SAMPLERS, SamplerSpec
from sciffusion.pipelines.bench.contenders import BenchDenoiser, Contender, SampleFn, grid_for

OWN_GRID_SUFFIX = "@designed"


def _make(spec: SamplerSpec, grid: Callable[[int], Tensor]) -> Callable[[int], SampleFn]:
    def make(steps: int) -> SampleFn:
        sigmas = grid(max(steps, 2) if spec.adaptive else steps)  # adaptive: only σ_max and σ_min are used

        def sample(denoise: BenchDenoiser, x_init: Tensor, generator: torch.Generator) -> Tensor:
            return spec(denoise, sigmas.to(x_init.dtype), x_init, generator=generator).x
        return sample
    return make


def our_contenders(sigma_min: float, sigma_max: float, rho: float, names: tuple[str, ...],
                   designed_grid: Callable[[int], Tensor] | None, own_grid_names: tuple[str, ...]) -> list[Contender]:
    """``names``: registered samplers to run on the Karras grid (both tracks); ``own_grid_names``: those
    also run on ``designed_grid(steps)`` (own-grid track only, name suffixed ``@designed``)."""
    unknown = [n for n in (*names, *own_grid_names) if n not in SAMPLERS]
    if unknown:
        raise ValueError(f"--samplers: unknown {', '.join(unknown)} (choose from {', '.join(SAMPLERS)})")
    karras = lambda steps: grid_for(steps, sigma_min, sigma_max, rho)  # noqa: E731
    out = []
    for name in names:
        spec = SAMPLERS[name]
        out.append(Contender("sciffusion", name, _make(spec, karras), not spec.stochastic,
                             steps_for_nfe=spec.steps_for_nfe, adaptive=spec.adaptive))
    if designed_grid is not None:
        for name in own_grid_names:
            spec = SAMPLERS[name]
            out.append(Contender("sciffusion", name + OWN_GRID_SUFFIX, _make(spec, designed_grid),
                                 not spec.stochastic, ("own-grid",), spec.steps_for_nfe, spec.adaptive))
    return out
