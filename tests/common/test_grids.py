"""σ grids: every builder's output passes check_grid, starts at σ_max and ends in an exact 0."""
import math

import pytest
import torch

from sciffusion.common.grids import (
    GridConfig, check_grid, discrete_grid, discrete_timesteps, karras_grid, log_linear_grid, uniform_time_grid,
)
from sciffusion.common.processes import DiscreteProcess, VEProcess, VPProcess

BUILDERS = {
    "karras": lambda n: karras_grid(n, 0.002, 80.0, 7.0),
    "log_linear": lambda n: log_linear_grid(n, 0.002, 80.0),
    "uniform_time_vp": lambda n: uniform_time_grid(VPProcess(), n),
    "uniform_time_ve": lambda n: uniform_time_grid(VEProcess(0.01, 50), n),
    "discrete_leading": lambda n: discrete_grid(DiscreteProcess(), n, "leading", steps_offset=1),
    "discrete_trailing": lambda n: discrete_grid(DiscreteProcess(), n, "trailing"),
    "discrete_linspace": lambda n: discrete_grid(DiscreteProcess(), n, "linspace"),
}
SIGMA_MAX = {"karras": 80.0, "log_linear": 80.0, "uniform_time_vp": VPProcess().sigma_max,
             "uniform_time_ve": 50.0, "discrete_trailing": DiscreteProcess().sigma_max,
             "discrete_linspace": DiscreteProcess().sigma_max}


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("steps", [1, 2, 5, 18, 100])
def test_grid_invariants(name, steps):
    g = BUILDERS[name](steps)
    assert check_grid(g) is g
    assert len(g) == steps + 1
    assert g[-1] == 0 and (g[:-1] > 0).all()
    assert (g[1:] < g[:-1]).all()
    assert len(torch.unique(g)) == len(g)
    if name in SIGMA_MAX:
        assert math.isclose(float(g[0]), SIGMA_MAX[name], rel_tol=1e-5)


def test_karras_grid_matches_the_formula():
    n, lo, hi, rho = 10, 0.002, 80.0, 7.0
    i = torch.arange(n, dtype=torch.float64)
    expected = (hi ** (1 / rho) + i / (n - 1) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    assert torch.allclose(karras_grid(n, lo, hi, rho, torch.float64)[:-1], expected, rtol=1e-6)
    assert math.isclose(float(karras_grid(n)[-2]), lo, rel_tol=1e-5)


def test_log_linear_grid_is_uniform_in_log_sigma():
    g = log_linear_grid(8, 0.01, 10.0, torch.float64)[:-1]
    d = torch.diff(torch.log(g))
    assert torch.allclose(d, d[0].expand_as(d), rtol=1e-9)


def test_discrete_timesteps_match_diffusers_spacings():
    assert discrete_timesteps(1000, 10, "leading").tolist() == list(range(900, -1, -100))
    assert discrete_timesteps(1000, 10, "trailing").tolist() == list(range(999, 0, -100))
    assert discrete_timesteps(1000, 4, "linspace").tolist() == [999, 666, 333, 0]
    diffusers = pytest.importorskip("diffusers")
    for spacing in ("leading", "trailing", "linspace"):
        sched = diffusers.DDIMScheduler(timestep_spacing=spacing, steps_offset=1 if spacing == "leading" else 0)
        sched.set_timesteps(25)
        ours = discrete_timesteps(1000, 25, spacing, steps_offset=1 if spacing == "leading" else 0)
        assert ours.tolist() == sched.timesteps.tolist(), spacing


@pytest.mark.parametrize("bad,msg", [
    (torch.tensor([3.0, 2.0, 1.0]), "exactly 0"),
    (torch.tensor([3.0, 3.0, 0.0]), "strictly decreasing"),
    (torch.tensor([1.0, 2.0, 0.0]), "strictly decreasing"),
    (torch.tensor([0.0]), "at least 2"),
    (torch.tensor([[1.0, 0.0]]), "1-D"),
    (torch.tensor([float("inf"), 1.0, 0.0]), "inf or nan"),
    (torch.tensor([2.0, -1.0, 0.0]), "> 0"),
])
def test_check_grid_rejects(bad, msg):
    with pytest.raises(ValueError, match=msg):
        check_grid(bad)


def test_grid_config_validates_and_builds():
    assert torch.equal(GridConfig(steps=7).build(), karras_grid(7))
    with pytest.raises(ValueError, match="steps"):
        GridConfig(steps=0)
    with pytest.raises(ValueError, match="sigma range"):
        GridConfig(sigma_min=1.0, sigma_max=0.5)
