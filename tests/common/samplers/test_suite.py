"""One suite every registered sampler must pass (cf. diffusers' tests/schedulers/test_schedulers.py)."""
import pytest
import torch

from sciffusion.common.denoisers import gaussian_denoiser
from sciffusion.common.grids import karras_grid, log_linear_grid
from sciffusion.common.samplers import SAMPLERS, StepInfo

NAMES = sorted(SAMPLERS)
DATA_STD = 0.5


def run(name, n=2000, steps=12, seed=0, grid=None):
    spec = SAMPLERS[name]
    sigmas = grid if grid is not None else karras_grid(steps, 0.002, 80.0)
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
    return spec(gaussian_denoiser(DATA_STD), sigmas, sigmas[0] * z, generator=torch.Generator().manual_seed(seed + 1))


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_finite_and_nfe_budget(name):
    spec = SAMPLERS[name]
    budget = 10
    steps = spec.steps_for_nfe(budget)
    res = run(name, n=64, steps=steps)
    assert res.x.shape == (64, 2) and torch.isfinite(res.x).all()
    if not spec.adaptive:
        assert 1 <= res.nfe <= budget, (res.nfe, budget)
        assert res.nfe >= steps


@pytest.mark.parametrize("name", NAMES)
def test_last_step_returns_the_denoised_estimate(name):
    infos: list[StepInfo] = []
    sigmas = log_linear_grid(6, 0.01, 20.0)
    z = torch.randn(32, 3, generator=torch.Generator().manual_seed(3))
    res = SAMPLERS[name](gaussian_denoiser(DATA_STD), sigmas, sigmas[0] * z,
                         generator=torch.Generator().manual_seed(4), callback=infos.append)
    assert infos, "callback never called"
    assert infos[-1].sigma_next == 0
    assert torch.equal(res.x, infos[-1].denoised)
    assert torch.equal(res.x, infos[-1].x)


@pytest.mark.parametrize("name", NAMES)
def test_gaussian_data_gets_the_right_std(name):
    spec = SAMPLERS[name]
    # first-order methods need many steps: Euler at 25 Karras steps is ~11% off, EM at 100 ~6%, at 300 ~1.5%
    steps = 300 if spec.stochastic else 100
    res = run(name, n=8_000, steps=steps)  # std of the std estimate ≈ 0.6%
    std = float(res.x.std())
    assert abs(std / DATA_STD - 1) < 0.05, f"{name}: std {std:.4f}, want {DATA_STD}"
    assert abs(float(res.x.mean())) < 0.02


@pytest.mark.parametrize("name", NAMES)
def test_seeded_runs_are_reproducible(name):
    a, b = run(name, n=100, seed=5), run(name, n=100, seed=5)
    assert torch.equal(a.x, b.x)
    if SAMPLERS[name].stochastic:
        assert not torch.equal(a.x, run(name, n=100, seed=6).x)


@pytest.mark.parametrize("name", [n for n in NAMES if not SAMPLERS[n].stochastic and not SAMPLERS[n].adaptive])
def test_batched_equals_one_at_a_time(name):
    sigmas = karras_grid(8)
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    den = gaussian_denoiser(DATA_STD)
    batched = SAMPLERS[name](den, sigmas.double(), sigmas[0].double() * z).x
    single = torch.cat([SAMPLERS[name](den, sigmas.double(), sigmas[0].double() * z[i:i + 1]).x for i in range(5)])
    assert torch.allclose(batched, single, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_bad_grid_is_rejected(name):
    with pytest.raises(ValueError, match="sigmas"):
        SAMPLERS[name](gaussian_denoiser(DATA_STD), torch.tensor([1.0, 0.5]), torch.zeros(4, 1))
