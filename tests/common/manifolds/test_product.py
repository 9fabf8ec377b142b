"""ℝ³ × SO(3) × T² product process with an exact score recovers its closed-form t = 0 marginals.

Data: r3 ~ N(m, s_r² I), R ~ IGSO(3)(μ, s_R), θ ~ WN(φ, s_θ²) per angle. Each forward marginal is the
data convolved with its heat kernel, so at time t it is the same family with s_k(t)² = s_k² + σ_k(t)²
(Gaussian, IGSO(3), wrapped normal all compose this way), and the exact score is known. Sampling from
the exact t = 1 marginal with Euler–Maruyama must give the t = 0 marginals. Tolerances: EM has an
O(1/steps) bias (measured ≈ 1-2 % in std / mean angle at 150 steps) on top of Monte-Carlo error.
Every registered product sampler (also on ragged parts) is checked in
tests/common/samplers/test_product_suite.py; here: which component's check catches which wrong score.
"""
import math

import pytest
import torch
from scipy import stats

from sciffusion.common.manifolds import (
    SO3, Euclidean, ProductProcess, Torus, exp_map, igso3_angle_cdf, igso3_score, log_map, rotation_angle,
    sample_igso3, sample_wrapped_normal, wrap, wrapped_normal_score,
)
from sciffusion.common.samplers.product import product_euler_maruyama, uniform_t_grid

F64 = torch.float64
B, STEPS = 3000, 150
M3, S3 = torch.tensor([1.0, -1.0, 0.5], dtype=F64), 0.5
MU, SR = exp_map(torch.tensor([0.3, -0.2, 0.9], dtype=F64)), 0.3
PHI, ST = torch.tensor([2.8, -1.0], dtype=F64), 0.3  # 2.8 rad: mass crosses the ±π cut
PROC = ProductProcess({"r3": Euclidean(0.1, 3.0), "so3": SO3(0.1, 1.5), "torus": Torus(0.1, 2.0)})


def s_eff(name, s0, t):
    return torch.sqrt(s0**2 + PROC.components[name].sigma(t) ** 2)


def exact_score(state, t, broken=None):
    out = {"r3": -(state["r3"] - M3) / s_eff("r3", S3, t)[:, None] ** 2,
           "so3": igso3_score(state["so3"], MU, s_eff("so3", SR, t)),
           "torus": wrapped_normal_score(state["torus"], PHI, s_eff("torus", ST, t)[:, None])}
    if broken == "so3_right_frame":  # score of the right-perturbation convention, log(μᵀ R)
        from sciffusion.common.manifolds import igso3_score_vec
        out["so3"] = igso3_score_vec(log_map(MU.T @ state["so3"]), s_eff("so3", SR, t))
    elif broken == "torus_unwrapped":  # Gaussian score without wrapping
        out["torus"] = -(state["torus"] - PHI) / s_eff("torus", ST, t)[:, None] ** 2
    elif broken == "r3_half":
        out["r3"] = 0.5 * out["r3"]
    return out


def marginal_errors(state):
    z = torch.zeros(1, dtype=F64)
    r3 = state["r3"]
    sr, so, st = float(s_eff("r3", S3, z)), float(s_eff("so3", SR, z)), float(s_eff("torus", ST, z))
    omega = rotation_angle(state["so3"] @ MU.T)
    d = wrap(state["torus"] - PHI)
    return {
        "r3_mean": float((r3.mean(0) - M3).abs().max() / sr),
        "r3_std": float((r3.std(0) / sr - 1).abs().max()),
        "so3_ks": stats.kstest(omega.numpy(), lambda w: igso3_angle_cdf(torch.as_tensor(w), so).numpy()).statistic,
        "torus_ks": max(stats.kstest(d[:, j].numpy(), lambda x: torch.special.ndtr(torch.as_tensor(x) / st).numpy())
                        .statistic for j in range(2)),
    }


BOUNDS = {"r3_mean": 0.08, "r3_std": 0.06, "so3_ks": 0.045, "torus_ks": 0.045}
# MC alone: mean 4 SE = 0.07 (in units of std); std 4 SE ≈ 0.05; KS 99.9 % at n = 3000: 0.036.


@pytest.mark.parametrize("broken", [None, "so3_right_frame", "torus_unwrapped", "r3_half"])
def test_product_sampler_recovers_closed_form_marginals(broken):
    g = torch.Generator().manual_seed(0)
    one = torch.ones(B, dtype=F64)
    init = {"r3": M3 + s_eff("r3", S3, one)[:, None] * torch.randn(B, 3, dtype=F64, generator=g),
            "so3": sample_igso3(MU.expand(B, 3, 3), s_eff("so3", SR, one), g),
            "torus": sample_wrapped_normal(PHI.expand(B, 2), s_eff("torus", ST, one)[:, None], g)}
    res = product_euler_maruyama(PROC, lambda s, t: exact_score(s, t, broken), uniform_t_grid(STEPS), init,
                                 generator=g)
    assert res.nfe == STEPS
    r = res.state["so3"]
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3, dtype=F64).expand_as(r), atol=1e-9)
    assert ((res.state["torus"] > -math.pi) & (res.state["torus"] <= math.pi)).all()
    err = marginal_errors(res.state)
    failed = {k for k, v in err.items() if v > BOUNDS[k]}
    if broken is None:
        assert not failed, err
    else:  # each broken score must be caught by the check of its own component
        assert {"so3_right_frame": "so3_ks", "torus_unwrapped": "torus_ks", "r3_half": "r3_std"}[broken] in failed, err


def test_perturb_targets_are_the_conditional_scores():
    """perturb() draws from the heat kernel around the data and returns its score (E[target] = 0 and
    the target matches the closed-form kernel score at the noisy point)."""
    g = torch.Generator().manual_seed(1)
    x0 = {"r3": torch.randn(500, 4, 3, dtype=F64, generator=g), "so3": MU.expand(500, 3, 3).clone(),
          "torus": PHI.expand(500, 2).clone()}
    t = torch.rand(500, dtype=F64, generator=g)
    xt, target = PROC.perturb(x0, t, g)
    sig = PROC.sigmas(t)
    assert torch.allclose(target["r3"], -(xt["r3"] - x0["r3"]) / sig["r3"][:, None, None] ** 2)
    assert torch.allclose(target["so3"], igso3_score(xt["so3"], MU, sig["so3"]), atol=1e-8)
    assert torch.allclose(target["torus"], wrapped_normal_score(xt["torus"], PHI, sig["torus"][:, None]), atol=1e-8)


def test_config_validation():
    with pytest.raises(ValueError, match="sigma range"):
        SO3(1.0, 0.5)
    with pytest.raises(ValueError, match="components"):
        ProductProcess({})
    with pytest.raises(ValueError, match="state: keys"):
        product_euler_maruyama(PROC, lambda s, t: s, uniform_t_grid(3), {"r3": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="steps"):
        uniform_t_grid(0)
