"""Product samplers: convergence orders of the PF-ODE integrators and low-temperature sampling.

Orders: on ℝ with Gaussian data N(μ, s²) the PF-ODE has the closed-form flow
x(t') − μ = (x(t) − μ) s(t')/s(t), s(t)² = s² + σ(t)²; the error at t = 0 must fall ×2 per halving of
the step for Euler and ×4 for Heun. On SO(3) × ragged torus (no closed-form flow) the same ratios are
measured against a 640-step Heun reference (self-convergence).
"""
import pytest
import torch

from sciffusion.common.manifolds import (
    SO3, Euclidean, HeatKernelData, ProductProcess, Ragged, Torus, exp_map, rotation_angle, wrap,
)
from sciffusion.common.samplers.low_temperature import LowTemperature, low_temperature
from sciffusion.common.samplers.product import PRODUCT_SAMPLERS, product_heun, uniform_t_grid

F64 = torch.float64
ORDER = {"euler": 2.0, "heun": 4.0}  # expected error ratio per halving
STEPS = (10, 20, 40, 80)


def ratios(errs):
    return [a / b for a, b in zip(errs[:-1], errs[1:])]


@pytest.mark.parametrize("name", sorted(ORDER))
def test_ode_order_on_euclidean_gaussian(name):
    proc = ProductProcess({"x": Euclidean(0.1, 3.0)})
    mu = 0.7
    d = HeatKernelData(proc, {"x": torch.full((11, 1), mu, dtype=F64)}, {"x": 0.5})
    x1 = mu + float(d.spread("x", 1.0)) * torch.linspace(-2, 2, 11, dtype=F64)[:, None]
    exact = mu + (x1 - mu) * float(d.spread("x", 0.0) / d.spread("x", 1.0))
    errs = [float((PRODUCT_SAMPLERS[name](proc, d.score, uniform_t_grid(n), {"x": x1}).state["x"] - exact)
                  .abs().max()) for n in STEPS]
    r = ratios(errs)  # measured: euler 2.09, 2.05, 2.03; heun 4.41, 4.21, 4.11
    assert all(abs(q / ORDER[name] - 1) < 0.12 for q in r), (name, errs, r)


@pytest.mark.parametrize("name", sorted(ORDER))
def test_ode_order_on_rotations_and_ragged_angles(name):
    """Heun's averaged left tangent vectors keep second order on SO(3); Euler is first order."""
    proc = ProductProcess({"so3": SO3(0.1, 1.5), "tor": Torus(0.1, 2.0)})
    g = torch.Generator().manual_seed(0)
    centers = {"so3": exp_map(torch.randn(16, 3, dtype=F64, generator=g)),
               "tor": Ragged.from_counts(wrap(3 * torch.randn(24, dtype=F64, generator=g)), [0, 1, 3, 2] * 4)}
    d = HeatKernelData(proc, centers, {"so3": 0.3, "tor": 0.3})
    init = d.sample(1.0, g)
    ref = product_heun(proc, d.score, uniform_t_grid(640), init).state

    def err(n):
        x = PRODUCT_SAMPLERS[name](proc, d.score, uniform_t_grid(n), init).state
        rot = rotation_angle(x["so3"] @ ref["so3"].transpose(1, 2)).max()
        return max(float(rot), float(wrap(x["tor"].values - ref["tor"].values).abs().max()))

    errs = [err(n) for n in STEPS]
    r = ratios(errs)  # measured: euler 1.99, 2.01, 2.01; heun 4.73, 4.45, 4.23
    assert all(abs(q / ORDER[name] - 1) < 0.2 for q in r), (name, errs, r)
    assert abs(r[-1] / ORDER[name] - 1) < 0.1, (name, r)


def test_low_temperature_factor_and_rows():
    cfg = LowTemperature({"x": 0.25}, {"x": 0.5})
    sig = torch.tensor([0.0, 0.5, 1e6], dtype=F64)
    assert torch.allclose(cfg.factor("x", sig), torch.tensor([4.0, 0.5 / (0.0625 + 0.25), 1.0], dtype=F64))
    proc = ProductProcess({"x": Euclidean(0.1, 3.0), "a": Torus(0.1, 2.0)})
    state = {"x": torch.zeros(3, 2, dtype=F64), "a": Ragged.from_counts(torch.zeros(4, dtype=F64), [1, 0, 3])}
    ones = lambda s, t: {"x": torch.ones(3, 2, dtype=F64), "a": torch.ones(4, dtype=F64)}  # noqa: E731
    t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    both = LowTemperature({"x": 0.25, "a": 0.5}, {"x": 0.5, "a": 0.2})
    out = low_temperature(proc, ones, both)(state, t)
    sx, sa = proc.components["x"].sigma(t), proc.components["a"].sigma(t)
    assert torch.allclose(out["x"], both.factor("x", sx)[:, None].expand(3, 2))
    assert torch.allclose(out["a"], both.factor("a", sa)[[0, 2, 2, 2]])  # each row: its own sample's σ
    untouched = low_temperature(proc, ones, cfg)(state, t)
    assert torch.equal(untouched["a"], torch.ones(4, dtype=F64))
    with pytest.raises(ValueError, match="unknown components"):
        low_temperature(proc, ones, LowTemperature({"y": 0.5}, {"y": 1.0}))
    with pytest.raises(ValueError, match="temperature"):
        LowTemperature({"x": 0.0}, {"x": 1.0})


@pytest.mark.parametrize("name", sorted(PRODUCT_SAMPLERS))
def test_low_temperature_samples_the_tempered_gaussian(name):
    """Data N(μ, s² I), dense [B, 3] and ragged [M, 2] parts; with λ·score every sampler must give
    p_data^{1/T} ⊛ N(0, σ_min²): variance T s² + σ_min²; the plain score gives s² + σ_min² (control)."""
    s, temps = 0.5, {"x": 0.5, "pts": 0.2}
    proc = ProductProcess({"x": Euclidean(0.1, 3.0), "pts": Euclidean(0.1, 3.0)})
    b, counts = 4000, [0, 1, 3] * 1334
    counts = counts[:b]
    centers = {"x": torch.zeros(b, 3, dtype=F64), "pts": Ragged.from_counts(torch.ones(sum(counts), 2, dtype=F64), counts)}
    data = HeatKernelData(proc, centers, {"x": s, "pts": s})
    tempered = HeatKernelData(proc, centers, {k: s * t**0.5 for k, t in temps.items()})
    init = tempered.sample(1.0, torch.Generator().manual_seed(0))
    steps = {"heun": 20}.get(name, 200)
    cfg = LowTemperature(temps, {"x": s, "pts": s})
    var_min = proc.components["x"].sigma_min ** 2
    for score, want in [(low_temperature(proc, data.score, cfg), {k: t * s**2 + var_min for k, t in temps.items()}),
                        (data.score, {k: s**2 + var_min for k in temps})]:
        out = PRODUCT_SAMPLERS[name](proc, score, uniform_t_grid(steps), init,
                                     generator=torch.Generator().manual_seed(1)).state
        for k, values in (("x", out["x"]), ("pts", out["pts"].values - 1)):
            std, std_want = float(values.std()), want[k] ** 0.5
            assert abs(std / std_want - 1) < 0.04, (name, k, std, std_want)
            assert abs(float(values.mean())) < 4 * std_want / values.numel() ** 0.5  # 4 SE
    # the two targets are far apart, so neither run could pass the other's check
    assert (temps["x"] * s**2 + var_min) / (s**2 + var_min) < 0.6
