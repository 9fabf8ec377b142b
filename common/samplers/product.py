"""Samplers on a product of manifolds (:class:`~sciffusion.common.manifolds.ProductProcess`): small pure
functions over a score function and a checked time grid.

A product sampler is ``sampler(process, score_fn, t_grid, state, *, generator=None, callback=None,
**options) -> ProductResult``: ``score_fn(state, t [B]) -> {name: tangent score}``, ``t_grid`` a
1-D float64 grid of times from ≤ 1 down to ≥ 0 (:func:`check_t_grid`), ``state`` the initial state at
``t_grid[0]`` (typically ``process.prior(...)``), dense or ragged parts alike. A step from t to t' < t
uses, per component k, the exact variance drop Δ_k = σ_k(t)² − σ_k(t')² (∫ g_k² over the step) and
moves each part by its retraction (x + v, exp([v]×) R on the left, wrap(θ + v)):

    reverse SDE, Euler–Maruyama:   v = Δ_k s_k(x, t) + sqrt(Δ_k) z
    PF-ODE, Euler:                 v = ½ Δ_k s_k(x, t)
    PF-ODE, Heun:                  x̃ = retract(x, ½ Δ_k s_k(x, t)),
                                   v = ½ Δ_k (s_k(x, t) + s_k(x̃, t')) / 2   (from x, not x̃)

Heun averages tangent vectors taken at x and at the retracted point x̃; with left (space-frame)
rotation vectors this is the second-order Runge–Kutta–Munthe-Kaas step on SO(3) (the dexp⁻¹ correction
is O(h²) in the slope, so O(h³) per step). The grid ends at t = 0 (σ_min > 0): the result samples the
data convolved with the σ_min heat kernel; there is no final denoising step on a manifold, so every
step is a full step (Heun: 2 calls per step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import torch
from torch import Tensor

from sciffusion.common.manifolds.product import ProductProcess, ProductResult, ScoreFn, State, Tangents, values_of


def check_t_grid(t_grid: Tensor) -> Tensor:
    """Validate a time grid and return it unchanged: a 1-D float64 tensor with at least 2 entries,
    finite, strictly decreasing, first entry ≤ 1 and last entry ≥ 0."""
    if not isinstance(t_grid, Tensor) or t_grid.dim() != 1:
        raise ValueError("t_grid: must be a 1-D tensor")
    if t_grid.dtype != torch.float64:
        raise ValueError(f"t_grid: must be float64, got {t_grid.dtype}")
    if len(t_grid) < 2:
        raise ValueError(f"t_grid: need at least 2 entries (1 step), got {len(t_grid)}")
    if not torch.isfinite(t_grid).all():
        raise ValueError("t_grid: contains inf or nan")
    if not (t_grid[1:] < t_grid[:-1]).all():
        raise ValueError("t_grid: must be strictly decreasing (no duplicates)")
    if t_grid[0] > 1 or t_grid[-1] < 0:
        raise ValueError(f"t_grid: must lie in [0, 1], got [{float(t_grid[-1])}, {float(t_grid[0])}]")
    return t_grid


def uniform_t_grid(steps: int, t_start: float = 1.0, t_end: float = 0.0) -> Tensor:
    """``steps + 1`` uniform times from ``t_start`` down to ``t_end`` (float64, passes :func:`check_t_grid`)."""
    if steps < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    if not 0 <= t_end < t_start <= 1:
        raise ValueError(f"time range: need 0 <= t_end < t_start <= 1, got ({t_end}, {t_start})")
    return check_t_grid(torch.linspace(t_start, t_end, steps + 1, dtype=torch.float64))


@dataclass(frozen=True)
class ProductStepInfo:
    """Passed to a product sampler's callback after each step: step ``i`` (0-based), times t_i and
    t_{i+1}, the state after the step and the scores at (state before the step, t_i)."""

    i: int
    t: float
    t_next: float
    state: State
    scores: Tangents


ProductStepCallback = Callable[[ProductStepInfo], None]


class CountingScore:
    """Wraps ``score_fn``: counts calls (one per batch), passes t as ``[B]`` in the state's float dtype
    and device, and checks the returned tangents' names and shapes."""

    __slots__ = ("fn", "process", "nfe")

    def __init__(self, process: ProductProcess, fn: ScoreFn):
        self.fn, self.process, self.nfe = fn, process, 0

    def __call__(self, state: State, t: float) -> Tangents:
        self.nfe += 1
        values = [values_of(p) for p in state.values()]
        ref = next((v for v in values if v.is_floating_point()), values[0])
        dtype = ref.dtype if ref.is_floating_point() else torch.float64
        t_vec = torch.full((self.process.batch_size(state),), t, dtype=dtype, device=ref.device)
        return self.process.check_tangents(state, self.fn(state, t_vec))


def _prepare(process: ProductProcess, score_fn: ScoreFn, t_grid: Tensor,
             state: Mapping[str, Any]) -> tuple[CountingScore, list[float], State]:
    check_t_grid(t_grid)
    process.batch_size(state)
    return CountingScore(process, score_fn), [float(t) for t in t_grid], dict(state)


def _report(callback: Optional[ProductStepCallback], i: int, t: float, t_next: float, state: State,
            scores: Tangents) -> None:
    if callback is not None:
        callback(ProductStepInfo(i, t, t_next, state, scores))


def pf_ode_update(drop: Mapping[str, float], scores: Tangents) -> Tangents:
    """The PF-ODE tangent over a step, ½ Δ_k s_k per component (Δ_k from ``process.variance_drop``)."""
    return {k: (0.5 * drop[k]) * s for k, s in scores.items()}


def product_euler_maruyama(process: ProductProcess, score_fn: ScoreFn, t_grid: Tensor, state: State, *,
                           generator: Optional[torch.Generator] = None,
                           callback: Optional[ProductStepCallback] = None) -> ProductResult:
    """Euler–Maruyama on the reverse SDE: v = Δ_k s_k + sqrt(Δ_k) z per component (module docstring)."""
    score, ts, x = _prepare(process, score_fn, t_grid, state)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        scores = score(x, t)
        drop, z = process.variance_drop(t, t_next), process.tangent_noise(x, generator)
        x = process.retract(x, {k: drop[k] * s + math.sqrt(drop[k]) * z[k] for k, s in scores.items()})
        _report(callback, i, t, t_next, x, scores)
    return ProductResult(x, score.nfe)


def product_euler(process: ProductProcess, score_fn: ScoreFn, t_grid: Tensor, state: State, *,
                  generator: Optional[torch.Generator] = None,
                  callback: Optional[ProductStepCallback] = None) -> ProductResult:
    """Euler on the probability-flow ODE: v = ½ Δ_k s_k (first order). ``generator`` is unused."""
    score, ts, x = _prepare(process, score_fn, t_grid, state)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        scores = score(x, t)
        x = process.retract(x, pf_ode_update(process.variance_drop(t, t_next), scores))
        _report(callback, i, t, t_next, x, scores)
    return ProductResult(x, score.nfe)


def product_heun(process: ProductProcess, score_fn: ScoreFn, t_grid: Tensor, state: State, *,
                 generator: Optional[torch.Generator] = None,
                 callback: Optional[ProductStepCallback] = None) -> ProductResult:
    """Heun on the probability-flow ODE (second order, 2 calls per step): the second score is taken
    at the Euler-retracted point, the two tangents are averaged and applied from the start point."""
    score, ts, x = _prepare(process, score_fn, t_grid, state)
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
        drop = process.variance_drop(t, t_next)
        scores = score(x, t)
        scores_next = score(process.retract(x, pf_ode_update(drop, scores)), t_next)
        mean = {k: 0.5 * (s + scores_next[k]) for k, s in scores.items()}
        x = process.retract(x, pf_ode_update(drop, mean))
        _report(callback, i, t, t_next, x, scores)
    return ProductResult(x, score.nfe)


@dataclass(frozen=True)
class ProductSamplerSpec:
    """A registered product sampler: ``fn`` with fixed ``options``; ``calls_per_step`` score calls
    per grid step (so a budget of N calls buys N // calls_per_step steps)."""

    name: str
    fn: Callable[..., ProductResult]
    stochastic: bool
    description: str
    calls_per_step: int = 1
    options: dict = field(default_factory=dict)

    def __call__(self, process: ProductProcess, score_fn: ScoreFn, t_grid: Tensor, state: State, *,
                 generator: Optional[torch.Generator] = None, callback: Optional[ProductStepCallback] = None,
                 **overrides: Any) -> ProductResult:
        return self.fn(process, score_fn, t_grid, state, generator=generator, callback=callback,
                       **{**self.options, **overrides})


PRODUCT_SAMPLERS: dict[str, ProductSamplerSpec] = {s.name: s for s in [
    ProductSamplerSpec("euler_maruyama", product_euler_maruyama, True, "Euler-Maruyama on the reverse SDE"),
    ProductSamplerSpec("euler", product_euler, False, "Euler on the PF-ODE (first order)"),
    ProductSamplerSpec("heun", product_heun, False, "Heun on the PF-ODE, tangents averaged (second order)", 2),
]}


def get_product_sampler(name: str, **options: Any) -> ProductSamplerSpec:
    """Look up a product sampler by name; ``options`` override its defaults."""
    if name not in PRODUCT_SAMPLERS:
        raise ValueError(f"product sampler: unknown {name!r} (choose one of {', '.join(PRODUCT_SAMPLERS)})")
    spec = PRODUCT_SAMPLERS[name]
    return spec if not options else ProductSamplerSpec(spec.name, spec.fn, spec.stochastic, spec.description,
                                                       spec.calls_per_step, {**spec.options, **options})


def register_product_sampler(spec: ProductSamplerSpec) -> None:
    """Add a product sampler (e.g. from a plug-in); refuses to replace an existing name."""
    if spec.name in PRODUCT_SAMPLERS:
        raise ValueError(f"product sampler: {spec.name!r} is already registered")
    PRODUCT_SAMPLERS[spec.name] = spec


__all__ = ["CountingScore", "PRODUCT_SAMPLERS", "ProductSamplerSpec", "ProductStepInfo", "check_t_grid",
           "get_product_sampler", "pf_ode_update", "product_euler", "product_euler_maruyama", "product_heun",
           "register_product_sampler", "uniform_t_grid"]
