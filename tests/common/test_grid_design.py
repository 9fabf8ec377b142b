import math

import numpy as np
import pytest
import torch

from sciffusion.common.grid_design import (
    DesignedGrid, GridDesignConfig, equidistributed_grid, error_density,
)
from sciffusion.common.grids import check_grid, log_linear_grid


def test_constant_density_gives_the_log_linear_grid():
    lam = np.linspace(-math.log(80.0), -math.log(0.002), 301)
    grid = equidistributed_grid(lam, np.ones_like(lam), 10, order=2, smooth=0.0, dtype=torch.float64)
    check_grid(grid)
    assert torch.allclose(grid, log_linear_grid(10, dtype=torch.float64), rtol=1e-9, atol=0)


@pytest.mark.parametrize("steps", [1, 2, 5, 10, 50])
def test_grid_passes_check_and_keeps_the_end_points(steps):
    lam = np.linspace(-math.log(80.0), -math.log(0.002), 301)
    density = np.exp(-((lam - 0.5) ** 2))  # error concentrated near σ ≈ 0.6
    grid = equidistributed_grid(lam, density, steps, order=2)
    check_grid(grid)
    assert len(grid) == steps + 1
    assert float(grid[0]) == pytest.approx(80.0)
    if steps > 1:
        assert float(grid[-2]) == pytest.approx(0.002)


def test_points_concentrate_where_the_error_density_is_high():
    lam = np.linspace(-math.log(80.0), -math.log(0.002), 301)
    peaked = equidistributed_grid(lam, np.exp(-4 * (lam - 0.5) ** 2), 20, order=1, floor=1e-3, smooth=0.0)
    flat = equidistributed_grid(lam, np.ones_like(lam), 20, order=1, smooth=0.0)
    near = lambda g: int(((-g[:-1].log() - 0.5).abs() < 0.5).sum())  # noqa: E731
    assert near(peaked) > 2 * near(flat)


def test_error_density_of_a_quadratic_is_its_second_derivative():
    lam = np.linspace(0.0, 1.0, 50)
    values = (3.0 * lam ** 2)[:, None, None] * np.ones((1, 4, 2))
    _, e = error_density(lam, values, order=2)
    assert np.allclose(e, 6.0)


def test_designed_grid_for_a_gaussian_concentrates_around_its_scale():
    s = 0.5
    denoise = lambda x, sigma: x * s**2 / (s**2 + sigma.reshape(-1, 1) ** 2)  # noqa: E731
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    designed = DesignedGrid(denoise, z, GridDesignConfig(pilot_steps=100))
    assert designed.pilot_nfe == 100
    grid = designed(12)
    check_grid(grid)
    inner = grid[1:-2]
    # D changes fastest in λ around σ = s: the median designed σ is within a factor 4 of s,
    # while the log-linear grid's median is sqrt(80 · 0.002) = 0.4 only by construction of the range
    assert s / 4 < float(inner.median()) < 4 * s
    assert not torch.allclose(grid, log_linear_grid(12))


@pytest.mark.parametrize("kwargs", [dict(sigma_min=0.0), dict(order=0), dict(order=5), dict(pilot_steps=3),
                                    dict(floor=0.0), dict(smooth=-1.0)])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        GridDesignConfig(**kwargs)


def test_grid_rejects_bad_inputs():
    lam = np.linspace(0, 1, 10)
    with pytest.raises(ValueError):
        equidistributed_grid(lam, np.ones(9), 5, order=2)
    with pytest.raises(ValueError):
        equidistributed_grid(lam, np.ones(10), 0, order=2)
