"""Product DSM loss: its weights, its ragged averaging, and that the exact score minimises it.

Closed forms (HeatKernelData): ℝ³ ~ N(m, s²), SO(3) ~ IGSO(3)(μ, s_R), ragged torus angles ~ WN(φ, s_θ²)
with m = 0, 1, 3 per sample. The marginal score is exact, and for the ℝ³ term with λ = σ² the loss
of the exact score is E_t[s² / (s² + σ(t)²)] per coordinate (E‖target‖² − E‖score‖², times σ²).
"""
import math

import pytest
import torch

from sciffusion.common.manifolds import (
    SO3, Euclidean, HeatKernelData, ProductProcess, Ragged, Torus, exp_map, igso3_score, wrapped_normal_score,
)
from sciffusion.common.training.product_loss import ProductLossConfig, product_score_loss, score_weight

F64 = torch.float64
PROC = ProductProcess({"r3": Euclidean(0.1, 3.0), "so3": SO3(0.1, 1.5), "torus": Torus(0.1, 2.0)})
M3 = torch.tensor([1.0, -1.0, 0.5], dtype=F64)
MU = exp_map(torch.tensor([0.3, -0.2, 0.9], dtype=F64))
SPREADS = {"r3": 0.5, "so3": 0.3, "torus": 0.3}


def data(b, spreads=SPREADS):
    counts = [(0, 1, 3)[i % 3] for i in range(b)]
    phi = torch.tensor([2.8 if j % 2 == 0 else -1.0 for m in counts for j in range(m)], dtype=F64)
    centers = {"r3": M3.expand(b, 3), "so3": MU.expand(b, 3, 3), "torus": Ragged.from_counts(phi, counts)}
    return HeatKernelData(PROC, centers, spreads)


def training_pairs(d, seed, t=None):
    """x0 ~ data, t on 64 uniform levels of [0, 1] (SO(3) noise draws build one inverse-CDF table per
    distinct σ, ~2 ms each: continuous t would cost B tables per batch here), then perturb."""
    g = torch.Generator().manual_seed(seed)
    x0 = d.sample_data(g)
    b = PROC.batch_size(x0)
    t = torch.randint(0, 64, (b,), generator=g).double() / 63 if t is None else torch.full((b,), t, dtype=F64)
    xt, target = PROC.perturb(x0, t, g)
    return xt, target, t


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0])
def test_zero_prediction_has_unit_loss_in_every_component(t):
    """λ_k = d_k / score_norm_k² normalises E[λ ‖target‖²/d] to 1 (MC, B = 30000, M = 40000 angles)."""
    xt, target, tt = training_pairs(data(30_000), seed=1, t=t)
    zero = {k: torch.zeros_like(v) for k, v in target.items()}
    loss = product_score_loss(PROC, zero, target, xt, tt)
    for k, v in loss.components.items():
        assert abs(float(v) - 1) < 0.04, (t, k, float(v))  # measured within 0.015
    assert float(score_weight(PROC.components["r3"], torch.tensor(0.3))) == pytest.approx(0.09)


def test_exact_score_loss_matches_closed_form_and_beats_perturbed_scores():
    d = data(30_000)
    xt, target, t = training_pairs(d, seed=2)
    exact = d.score(xt, t)
    base = product_score_loss(PROC, exact, target, xt, t)
    # ℝ³: E_t[s²/(s² + σ(t)²)] over the 64 t levels
    tm = torch.arange(64, dtype=F64) / 63
    want = float((0.25 / (0.25 + PROC.components["r3"].sigma(tm) ** 2)).mean())
    assert abs(float(base.components["r3"]) / want - 1) < 0.03, (float(base.components["r3"]), want)
    for k in PROC.components:  # the same noise for all (common random numbers): a sharp comparison
        for wrong in (0.8 * exact[k], 1.25 * exact[k], exact[k] + 0.3 * exact[k].abs().mean()):
            other = product_score_loss(PROC, dict(exact, **{k: wrong}), target, xt, t)
            assert float(other.components[k]) > float(base.components[k]) * 1.005, k
            assert float(other.total) > float(base.total)


def test_ragged_mean_per_sample_or_per_row():
    """counts (0, 1, 3): weighted row errors e = (e1 | e2, e3, e4); "sample" = (e1 + mean(e2..e4))/2,
    "row" = mean(e1..e4); the empty sample adds nothing."""
    proc = ProductProcess({"a": Torus(0.1, 2.0)})
    noisy = {"a": Ragged.from_counts(torch.zeros(4, dtype=F64), [0, 1, 3])}
    t = torch.tensor([0.9, 0.2, 0.7], dtype=F64)
    diff = torch.tensor([1.0, 2.0, 0.0, 4.0], dtype=F64)
    lam = score_weight(proc.components["a"], proc.components["a"].sigma(t)[[1, 2, 2, 2]])
    e = lam * diff**2
    pred, target = {"a": diff}, {"a": torch.zeros(4, dtype=F64)}
    per_sample = product_score_loss(proc, pred, target, noisy, t, ProductLossConfig(ragged_mean="sample"))
    per_row = product_score_loss(proc, pred, target, noisy, t, ProductLossConfig(ragged_mean="row"))
    assert torch.allclose(per_sample.total, (e[0] + e[1:].mean()) / 2)
    assert torch.allclose(per_row.total, e.mean())
    assert not torch.allclose(per_sample.total, per_row.total)
    empty = {"a": Ragged.from_counts(torch.zeros(0, dtype=F64), [0, 0, 0])}
    p = torch.zeros(0, dtype=F64, requires_grad=True)
    loss = product_score_loss(proc, {"a": p}, {"a": torch.zeros(0, dtype=F64)}, empty, t)
    assert float(loss.total.detach()) == 0.0 and loss.total.requires_grad


def test_component_weights_and_config():
    xt, target, t = training_pairs(data(30), seed=3)
    zero = {k: torch.zeros_like(v) for k, v in target.items()}
    plain = product_score_loss(PROC, zero, target, xt, t)
    weighted = product_score_loss(PROC, zero, target, xt, t, ProductLossConfig(weights={"so3": 0.0, "r3": 2.0}))
    assert torch.allclose(weighted.total, 2 * plain.components["r3"] + plain.components["torus"])
    cfg = ProductLossConfig(weights={"r3": 0.5}, ragged_mean="row")
    assert ProductLossConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="ragged_mean"):
        ProductLossConfig(ragged_mean="angle")
    with pytest.raises(ValueError, match="weights"):
        ProductLossConfig(weights={"r3": -1.0})
    with pytest.raises(ValueError, match=r"scores\['torus'\]"):
        product_score_loss(PROC, dict(zero, torus=torch.zeros(30, 3, dtype=F64)), target, xt, t)


class HeatKernelScore(torch.nn.Module):
    """The closed-form family with trainable centre b (ℝ³) and log spreads² (ℝ³, SO(3), torus); SO(3)
    and torus centres fixed. The exact score is the member b = m, spreads = SPREADS."""

    def __init__(self):
        super().__init__()
        self.b = torch.nn.Parameter(torch.zeros(3, dtype=F64))
        self.log_var = torch.nn.Parameter(torch.full((3,), math.log(0.5), dtype=F64))

    def forward(self, xt, t, centers):
        var = self.log_var.exp()
        s = {k: torch.sqrt(var[i] + PROC.components[k].sigma(t) ** 2) for i, k in enumerate(PROC.components)}
        tor = xt["torus"]
        return {"r3": -(xt["r3"] - self.b) / s["r3"][:, None] ** 2,
                "so3": igso3_score(xt["so3"], MU.expand(len(t), 3, 3), s["so3"]),
                "torus": wrapped_normal_score(tor.values, centers["torus"].values, tor.rows(s["torus"]))}


def test_trained_minimiser_approaches_the_exact_score():
    d = data(384)
    model = HeatKernelScore()
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for step in range(300):
        xt, target, t = training_pairs(d, seed=100 + step)
        loss = product_score_loss(PROC, model(xt, t, d.centers), target, xt, t).total
        opt.zero_grad()
        loss.backward()
        opt.step()
    spreads = model.log_var.detach().exp().sqrt()
    want = torch.tensor([SPREADS[k] for k in PROC.components], dtype=F64)
    assert float((model.b.detach() - M3).abs().max()) < 0.06, model.b  # from 0: |m| up to 1
    assert float((spreads / want - 1).abs().max()) < 0.15, spreads  # from sqrt(0.5) ≈ 0.71
