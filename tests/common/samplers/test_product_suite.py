"""One suite every registered product sampler must pass, on closed forms (cf. test_suite.py for ℝⁿ).

Data (:class:`HeatKernelData`): ℝ³ ~ N(m, 0.5²), SO(3) ~ IGSO(3)(μ, 0.3), and a ragged torus with
m = 0, 1, 3 angles per sample (cycling), angle j of a sample ~ WN(φ_j, 0.3²) with φ alternating 2.8 /
−1.0 rad (mass crosses the ±π cut). Each marginal stays in its family with s(t)² = s² + σ(t)², so the
exact score is known and a sampler started from the exact t = 1 marginal must return the t = 0 one.
A score scaled by 0.5 must fail the same checks (negative control).
"""
import math

import pytest
import torch
from scipy import stats

from sciffusion.common.manifolds import (
    SO3, Euclidean, HeatKernelData, ProductProcess, Ragged, Torus, exp_map, igso3_angle_cdf, rotation_angle, wrap,
)
from sciffusion.common.samplers.product import (
    PRODUCT_SAMPLERS, ProductStepInfo, check_t_grid, get_product_sampler, uniform_t_grid,
)

F64 = torch.float64
NAMES = sorted(PRODUCT_SAMPLERS)
PROC = ProductProcess({"r3": Euclidean(0.1, 3.0), "so3": SO3(0.1, 1.5), "torus": Torus(0.1, 2.0)})
M3 = torch.tensor([1.0, -1.0, 0.5], dtype=F64)
MU = exp_map(torch.tensor([0.3, -0.2, 0.9], dtype=F64))
SPREADS = {"r3": 0.5, "so3": 0.3, "torus": 0.3}
STEPS = {"euler_maruyama": 200, "euler": 200, "heun": 20}  # first-order bias ≈ 1-2 % at 200 steps
BOUNDS = {"r3_mean": 0.08, "r3_std": 0.06, "so3_ks": 0.045, "torus_ks": 0.045}
# MC alone at B = 3000 (M = 4000 angles): mean 4 SE = 0.07 std; std 4 SE ≈ 0.05; KS 99.9 % ≈ 0.036 / 0.031.


def data(counts):
    """HeatKernelData with B = len(counts) samples and counts[b] angles in sample b."""
    b, rows = len(counts), [j for m in counts for j in range(m)]
    phi = torch.tensor([2.8 if j % 2 == 0 else -1.0 for j in rows], dtype=F64)
    centers = {"r3": M3.expand(b, 3), "so3": MU.expand(b, 3, 3), "torus": Ragged.from_counts(phi, counts)}
    return HeatKernelData(PROC, centers, SPREADS)


def cycle(b, pattern=(0, 1, 3)):
    return [pattern[i % len(pattern)] for i in range(b)]


def run(name, d, steps, seed=0, scale=1.0, score=None, **kw):
    init = d.sample(1.0, torch.Generator().manual_seed(seed))
    fn = score or (lambda s, t: {k: scale * v for k, v in d.score(s, t).items()})
    return PRODUCT_SAMPLERS[name](PROC, fn, uniform_t_grid(steps), init,
                                  generator=torch.Generator().manual_seed(seed + 1), **kw)


def marginal_errors(d, state):
    z = torch.zeros(1, dtype=F64)
    sr, so, st = (float(d.spread(k, z)) for k in ("r3", "so3", "torus"))
    r3, tor = state["r3"], state["torus"]
    omega = rotation_angle(state["so3"] @ MU.T)
    dev = wrap(tor.values - d.centers["torus"].values)
    return {"r3_mean": float((r3.mean(0) - M3).abs().max() / sr), "r3_std": float((r3.std(0) / sr - 1).abs().max()),
            "so3_ks": stats.kstest(omega.numpy(), lambda w: igso3_angle_cdf(torch.as_tensor(w), so).numpy()).statistic,
            "torus_ks": stats.kstest(dev.numpy(), lambda x: torch.special.ndtr(torch.as_tensor(x) / st).numpy()).statistic}


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("name", NAMES)
def test_exact_score_recovers_t0_marginals_on_ragged_parts(name, scale):
    d = data(cycle(3000))
    res = run(name, d, STEPS.get(name, 200), scale=scale)
    x = res.state
    assert torch.equal(x["torus"].index, d.centers["torus"].index)  # layout kept, m = 0 samples stay empty
    assert torch.allclose(x["so3"] @ x["so3"].transpose(1, 2), torch.eye(3, dtype=F64).expand(3000, 3, 3), atol=1e-9)
    assert ((x["torus"].values > -math.pi) & (x["torus"].values <= math.pi)).all()
    err = marginal_errors(d, x)
    failed = {k for k, v in err.items() if v > BOUNDS[k]}
    if scale == 1.0:
        assert not failed, (name, err)
    else:  # half the score: every component's check must catch it
        assert {"r3_std", "so3_ks", "torus_ks"} <= failed, (name, err)


@pytest.mark.parametrize("name", NAMES)
def test_nfe_callback_and_all_empty_ragged_part(name):
    spec, infos = PRODUCT_SAMPLERS[name], []
    d = data([0, 0, 0, 0])
    res = run(name, d, 5, callback=infos.append)
    assert res.nfe == 5 * spec.calls_per_step
    assert [i.i for i in infos] == list(range(5)) and isinstance(infos[0], ProductStepInfo)
    assert infos[-1].t_next == 0.0 and infos[0].t == 1.0
    assert infos[-1].state is res.state
    assert res.state["torus"].values.shape == (0,) and torch.isfinite(res.state["r3"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_seeded_runs_are_reproducible(name):
    d = data(cycle(20))
    a, b = run(name, d, 6, seed=5).state, run(name, d, 6, seed=5).state
    assert all(torch.equal(a[k] if k != "torus" else a[k].values, b[k] if k != "torus" else b[k].values) for k in a)
    if PRODUCT_SAMPLERS[name].stochastic:
        init = d.sample(1.0, torch.Generator().manual_seed(5))
        c = PRODUCT_SAMPLERS[name](PROC, d.score, uniform_t_grid(6), init, generator=torch.Generator().manual_seed(7))
        assert not torch.equal(a["r3"], c.state["r3"])


@pytest.mark.parametrize("name", NAMES)
def test_ragged_equals_dense_when_all_counts_agree(name):
    """m = 2 everywhere: the flat [2B] run and the dense [B, 2] run are one computation (same draws)."""
    b = 6
    d = data([2] * b)
    init = d.sample(1.0, torch.Generator().manual_seed(2))
    dense_init = dict(init, torus=init["torus"].values.reshape(b, 2))
    phi = d.centers["torus"].values.reshape(b, 2)
    dense = HeatKernelData(PROC, dict(d.centers, torus=phi), SPREADS)
    spec, grid = PRODUCT_SAMPLERS[name], uniform_t_grid(7)
    r = spec(PROC, d.score, grid, init, generator=torch.Generator().manual_seed(3)).state
    s = spec(PROC, dense.score, grid, dense_init, generator=torch.Generator().manual_seed(3)).state
    assert torch.allclose(r["torus"].values, s["torus"].reshape(-1), rtol=0, atol=1e-12)
    assert torch.allclose(r["so3"], s["so3"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if not PRODUCT_SAMPLERS[n].stochastic])
def test_batched_equals_one_at_a_time(name):
    counts = [0, 1, 3, 2]
    d = data(counts)
    init = d.sample(1.0, torch.Generator().manual_seed(4))
    spec, grid = PRODUCT_SAMPLERS[name], uniform_t_grid(6)
    batched = spec(PROC, d.score, grid, init).state
    for b, m in enumerate(counts):
        rows = init["torus"].index == b
        one = data([m])
        x = {"r3": init["r3"][b:b + 1], "so3": init["so3"][b:b + 1],
             "torus": Ragged.from_counts(init["torus"].values[rows], [m])}
        single = spec(PROC, one.score, grid, x).state
        assert torch.allclose(single["r3"][0], batched["r3"][b], rtol=0, atol=1e-12)
        assert torch.allclose(single["so3"][0], batched["so3"][b], rtol=0, atol=1e-12)
        assert torch.allclose(single["torus"].values, batched["torus"].values[rows], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_bad_grid_and_bad_scores_are_rejected(name):
    d = data([1, 2])
    init = d.sample(1.0, torch.Generator().manual_seed(0))
    spec = PRODUCT_SAMPLERS[name]
    for grid, msg in [(torch.tensor([1.0, 0.0]), "float64"), (torch.tensor([0.0, 1.0], dtype=F64), "decreasing"),
                      (torch.tensor([1.5, 0.0], dtype=F64), r"\[0, 1\]"), (torch.tensor([1.0], dtype=F64), "2 entries")]:
        with pytest.raises(ValueError, match=f"t_grid: .*{msg}"):
            spec(PROC, d.score, grid, init)
    padded = lambda s, t: dict(d.score(s, t), torus=torch.zeros(2, 2, dtype=F64))  # [B, max m]  # noqa: E731
    with pytest.raises(ValueError, match=r"scores\['torus'\]"):
        spec(PROC, padded, uniform_t_grid(2), init)


def test_registry_and_t_grid():
    assert get_product_sampler("heun").calls_per_step == 2
    with pytest.raises(ValueError, match="unknown 'rk4'"):
        get_product_sampler("rk4")
    g = uniform_t_grid(4, 0.8, 0.2)
    assert check_t_grid(g) is g and g.tolist() == pytest.approx([0.8, 0.65, 0.5, 0.35, 0.2])
    with pytest.raises(ValueError, match="time range"):
        uniform_t_grid(3, 0.2, 0.5)
