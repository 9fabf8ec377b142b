"""Ragged parts: the flat-rows-plus-index type and the product process's operations on it.

Layout used throughout: B = 4 samples with m = (0, 1, 3, 0) rows — empty samples at both ends.
"""
import math

import pytest
import torch

from sciffusion.common.manifolds import (
    SO3, Euclidean, ProductProcess, Ragged, RaggedShape, Torus, concat_states, exp_map, igso3_score, wrap,
    wrapped_normal_score,
)

F64 = torch.float64
COUNTS = (0, 1, 3, 0)
PROC = ProductProcess({"r3": Euclidean(0.1, 3.0), "so3": SO3(0.1, 1.5), "torus": Torus(0.1, 2.0)})


def ragged_state(counts=COUNTS, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, m = len(counts), sum(counts)
    return {"r3": torch.randn(b, 3, dtype=F64, generator=g),
            "so3": exp_map(torch.randn(b, 3, dtype=F64, generator=g)),
            "torus": Ragged.from_counts(wrap(3 * torch.randn(m, dtype=F64, generator=g)), counts)}


def test_ragged_layout_and_reductions():
    r = Ragged.from_counts(torch.tensor([1.0, 2.0, 4.0, 6.0]), COUNTS)
    assert r.index.tolist() == [1, 2, 2, 2] and r.num_samples == 4
    assert r.counts().tolist() == [0, 1, 3, 0]
    assert r.shape == RaggedShape(COUNTS)
    assert r.sum_per_sample(r.values).tolist() == [0.0, 1.0, 12.0, 0.0]
    assert r.mean_per_sample(r.values).tolist() == [0.0, 1.0, 4.0, 0.0]  # empty samples: 0, not nan
    assert r.rows(torch.tensor([10.0, 20.0, 30.0, 40.0])).tolist() == [20.0, 30.0, 30.0, 30.0]
    assert [v.tolist() for v in r.split()] == [[], [1.0], [2.0, 4.0, 6.0], []]
    moved = r.to(F64)
    assert moved.values.dtype == F64 and torch.equal(moved.index, r.index)
    # rows need not be sorted by sample
    u = Ragged(torch.tensor([5.0, 7.0, 9.0]), torch.tensor([2, 0, 2]), 3)
    assert u.mean_per_sample(u.values).tolist() == [7.0, 0.0, 7.0]


def test_ragged_rejects_bad_layouts():
    with pytest.raises(ValueError, match="ragged index: 2 ids for 3 rows"):
        Ragged(torch.zeros(3), torch.tensor([0, 1]), 2)
    with pytest.raises(ValueError, match=r"sample ids must lie in \[0, 2\)"):
        Ragged(torch.zeros(2), torch.tensor([0, 2]), 2)
    with pytest.raises(ValueError, match="int64"):
        Ragged(torch.zeros(2), torch.tensor([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="counts: sum 3 != 2 rows"):
        Ragged.from_counts(torch.zeros(2), (1, 2))
    with pytest.raises(ValueError, match="counts"):
        RaggedShape((1, -1))
    with pytest.raises(ValueError, match="ragged values"):
        Ragged.from_counts(torch.zeros(2), (1, 1)).with_values(torch.zeros(3))


def test_perturb_uses_each_samples_sigma_on_its_rows():
    """Each ragged row is perturbed with σ(t_b) of its own sample, and its target is the wrapped-normal
    kernel score at that σ; dense parts as before."""
    x0 = ragged_state()
    t = torch.tensor([0.9, 0.1, 0.6, 0.3], dtype=F64)
    xt, target = PROC.perturb(x0, t, torch.Generator().manual_seed(1))
    assert torch.equal(xt["torus"].index, x0["torus"].index)
    sig = PROC.sigmas(t)
    row_sig = sig["torus"][x0["torus"].index]
    assert torch.allclose(target["torus"], wrapped_normal_score(xt["torus"].values, x0["torus"].values, row_sig),
                          atol=1e-10)
    assert torch.allclose(target["so3"], igso3_score(xt["so3"], x0["so3"], sig["so3"]), atol=1e-8)
    # negative control: the sample-order σ (σ_0, σ_1, σ_2, σ_3 on the 4 rows) gives other targets
    wrong = wrapped_normal_score(xt["torus"].values, x0["torus"].values, sig["torus"])
    assert not torch.allclose(target["torus"], wrong, atol=1e-3)


def test_ragged_equals_dense_when_all_counts_agree():
    """m = 2 for every sample: flat [2B] and dense [B, 2] draw the same numbers in the same order, so
    perturb, noise and retract agree exactly (one implementation for both layouts)."""
    b = 5
    dense = ragged_state((2,) * b, seed=3)
    dense["torus"] = dense["torus"].values.reshape(b, 2)
    ragged = dict(dense, torus=Ragged.from_counts(dense["torus"].reshape(-1), (2,) * b))
    t = torch.linspace(0.05, 0.95, b, dtype=F64)
    xd, td = PROC.perturb(dense, t, torch.Generator().manual_seed(4))
    xr, tr = PROC.perturb(ragged, t, torch.Generator().manual_seed(4))
    assert torch.equal(xd["torus"].reshape(-1), xr["torus"].values)
    assert torch.equal(td["torus"].reshape(-1), tr["torus"])
    assert torch.equal(xd["so3"], xr["so3"]) and torch.equal(td["r3"], tr["r3"])
    nd = PROC.tangent_noise(dense, torch.Generator().manual_seed(5))
    nr = PROC.tangent_noise(ragged, torch.Generator().manual_seed(5))
    assert torch.equal(nd["torus"].reshape(-1), nr["torus"])
    assert torch.equal(PROC.retract(dense, nd)["torus"].reshape(-1), PROC.retract(ragged, nr)["torus"].values)


def test_prior_retract_and_noise_keep_the_layout_incl_all_empty():
    g = torch.Generator().manual_seed(6)
    for counts in (COUNTS, (0, 0, 0, 0)):
        shapes = {"r3": (4, 3), "so3": (4, 3, 3), "torus": RaggedShape(counts)}
        x = PROC.prior(shapes, generator=g)
        assert x["torus"].values.shape == (sum(counts),) and x["torus"].num_samples == 4
        assert x["torus"].index.tolist() == RaggedShape(counts).index().tolist()
        assert ((x["torus"].values > -math.pi) & (x["torus"].values <= math.pi)).all()
        v = PROC.tangent_noise(x, g)
        assert v["torus"].shape == (sum(counts),) and v["so3"].shape == (4, 3)
        y = PROC.retract(x, {k: 4.0 * t for k, t in v.items()})
        assert torch.equal(y["torus"].index, x["torus"].index)
        assert ((y["torus"].values > -math.pi) & (y["torus"].values <= math.pi)).all()
        t = torch.full((4,), 0.5, dtype=F64)
        xt, target = PROC.perturb(x, t, g)
        assert target["torus"].shape == (sum(counts),)


def test_ragged_euclidean_and_so3_parts():
    """Any component may be ragged: points [M, 3] and rotations [M, 3, 3] with per-row σ."""
    proc = ProductProcess({"pts": Euclidean(0.1, 3.0), "rot": SO3(0.1, 1.5)})
    shapes = {"pts": RaggedShape((2, 0, 1), (3,)), "rot": RaggedShape((1, 1, 0), (3, 3))}
    x0 = proc.prior(shapes, generator=torch.Generator().manual_seed(7))
    t = torch.tensor([0.2, 0.5, 0.8], dtype=F64)
    xt, target = proc.perturb(x0, t, torch.Generator().manual_seed(8))
    sig = proc.sigmas(t)
    s_rows = sig["pts"][x0["pts"].index][:, None]
    assert torch.allclose(target["pts"], -(xt["pts"].values - x0["pts"].values) / s_rows**2)
    assert torch.allclose(target["rot"], igso3_score(xt["rot"].values, x0["rot"].values, sig["rot"][[0, 1]]),
                          atol=1e-8)


def test_state_and_score_checks():
    x = ragged_state()
    assert PROC.batch_size(x) == 4
    with pytest.raises(ValueError, match=r"batch sizes differ across components: \[3, 4\]"):
        PROC.batch_size(dict(x, torus=Ragged.from_counts(x["torus"].values, (1, 3, 0))))
    good = {"r3": torch.zeros(4, 3), "so3": torch.zeros(4, 3), "torus": torch.zeros(4)}
    PROC.check_tangents(x, good)
    with pytest.raises(ValueError, match=r"scores\['torus'\]: need shape \(4,\), got \(4, 3\)"):
        PROC.check_tangents(x, dict(good, torus=torch.zeros(4, 3)))  # a padded [B, max m] score
    with pytest.raises(ValueError, match=r"scores\['so3'\]: need shape \(4, 3\)"):
        PROC.check_tangents(x, dict(good, so3=torch.zeros(4, 3, 3)))
    with pytest.raises(ValueError, match="t: need shape"):
        PROC.perturb(x, torch.zeros(3, dtype=F64))


def test_process_dict_round_trip():
    assert ProductProcess.from_dict(PROC.to_dict()) == PROC
    with pytest.raises(ValueError, match="kind must be one of"):
        ProductProcess.from_dict({"a": {"kind": "sphere", "sigma_min": 0.1, "sigma_max": 1.0}})


def test_concat_states_shifts_sample_ids():
    a, b = ragged_state((2, 0), seed=9), ragged_state((1,), seed=10)
    both = concat_states([a, b])
    assert PROC.batch_size(both) == 3
    assert both["torus"].index.tolist() == [0, 0, 2] and both["torus"].counts().tolist() == [2, 0, 1]
    assert torch.equal(both["r3"], torch.cat([a["r3"], b["r3"]]))
    assert [v.tolist() for v in both["torus"].split()] == [v.tolist() for v in a["torus"].split() + b["torus"].split()]
    with pytest.raises(ValueError, match="same component names"):
        concat_states([a, {"r3": b["r3"]}])
