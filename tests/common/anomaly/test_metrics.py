"""Metrics on raw scores: closed forms (perfect, reversed, tied, hand-computed) and scikit-learn where installed."""
import numpy as np
import pytest

from sciffusion.common.anomaly.metrics import (
    aupr_in, aupr_out, auroc, average_precision, dense_auroc, detection_metrics, f1_max, fpr_at_tpr, roc_curve,
)


def test_closed_forms_perfect_reversed_and_tied():
    labels = np.array([0, 0, 0, 1, 1])
    perfect = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auroc(perfect, labels) == 1.0
    assert auroc(-perfect, labels) == 0.0  # negative control: reversed ranking
    assert auroc(np.ones(5), labels) == 0.5  # all tied
    assert aupr_out(perfect, labels) == 1.0 and aupr_in(perfect, labels) == 1.0
    assert fpr_at_tpr(perfect, labels) == 0.0 and fpr_at_tpr(-perfect, labels) == 1.0
    assert f1_max(perfect, labels) == (1.0, 0.8)


def test_hand_computed_example():
    # scores 4,3,2,1 with labels 1,0,1,0: pairs (pos>neg) = (4>3, 4>1, 2>1) = 3 of 4
    s, y = np.array([4.0, 3.0, 2.0, 1.0]), np.array([1, 0, 1, 0])
    assert auroc(s, y) == pytest.approx(0.75)
    assert average_precision(s, y) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)  # recall steps at ranks 1 and 3
    assert fpr_at_tpr(s, y) == pytest.approx(0.5)  # TPR reaches 1 at threshold 2, where FPR = 1/2
    assert f1_max(s, y)[0] == pytest.approx(0.8)  # threshold 2: P = 2/3, R = 1
    fpr, tpr, _ = roc_curve(s, y)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1


def test_gaussian_shift_auroc_closed_form():
    # normal N(0,1) vs anomaly N(d,1): AUROC = Phi(d / sqrt 2)
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    d = 1.0
    s = np.r_[rng.normal(0, 1, 20000), rng.normal(d, 1, 20000)]
    y = np.r_[np.zeros(20000), np.ones(20000)]
    assert auroc(s, y) == pytest.approx(norm.cdf(d / np.sqrt(2)), abs=0.01)
    assert fpr_at_tpr(s, y) == pytest.approx(1 - norm.cdf(norm.ppf(0.05) + d), abs=0.02)


def test_against_sklearn_with_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=300), 1)  # many ties
    y = (rng.random(300) < 0.3).astype(int)
    s = s + 0.8 * y
    assert auroc(s, y) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    assert aupr_out(s, y) == pytest.approx(metrics.average_precision_score(y, s), abs=1e-12)
    assert aupr_in(s, y) == pytest.approx(metrics.average_precision_score(1 - y, -s), abs=1e-12)
    fpr, tpr, _ = metrics.roc_curve(y, s, drop_intermediate=False)
    assert fpr_at_tpr(s, y) == pytest.approx(fpr[np.searchsorted(tpr, 0.95)], abs=1e-12)
    p, r, _ = metrics.precision_recall_curve(y, s)
    f1 = np.max(2 * p * r / np.maximum(p + r, 1e-300))
    assert f1_max(s, y)[0] == pytest.approx(f1, abs=1e-12)


def test_dense_and_summary_and_errors():
    maps = np.zeros((2, 4, 4))
    masks = np.zeros((2, 4, 4), dtype=int)
    maps[0, 1, 1], masks[0, 1, 1] = 5.0, 1
    assert dense_auroc(maps, masks) == 1.0
    assert dense_auroc(-maps, masks) < 0.5
    m = detection_metrics([0.1, 0.2, 0.9], [0, 0, 1])
    assert (m.auroc, m.n_normal, m.n_anomaly) == (1.0, 2, 1)
    with pytest.raises(ValueError, match="both normal"):
        auroc([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        auroc([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="shapes differ"):
        dense_auroc(np.zeros((2, 3)), np.zeros((2, 4)))


def test_auroc_by_kind_separates_the_kinds():
    from sciffusion.common.anomaly.metrics import auroc_by_kind

    scores = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 0.5])
    labels = np.array([0, 0, 0, 1, 1, 1])
    kinds = np.array(["x", "x", "x", "loud", "loud", "quiet"])  # names of normals are ignored
    out = auroc_by_kind(scores, labels, kinds)
    assert out == {"loud": 1.0, "quiet": pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match="one per input"):
        auroc_by_kind(scores, labels, kinds[:3])


def test_mean_group_auroc_is_the_mean_of_the_groups_own_aurocs():
    from sciffusion.common.anomaly.metrics import auroc, mean_group_auroc

    # group a: scores separate perfectly; group b: reversed; group c: one class only (left out)
    scores = np.array([0.1, 0.2, 0.9, 5.0, 6.0, 1.0, 3.0, 3.0])
    labels = np.array([0, 0, 1, 0, 0, 1, 0, 0])
    groups = np.array(["a", "a", "a", "b", "b", "b", "c", "c"])
    value, used = mean_group_auroc(scores, labels, groups)
    assert used == 2 and value == pytest.approx(0.5)  # (1 + 0) / 2
    # negative control: the pooled ("micro") AUROC is another number here, because group b runs high
    assert auroc(scores, labels) != pytest.approx(value)
    assert mean_group_auroc(scores[:2], labels[:2], groups[:2]) == (None, 0)
    with pytest.raises(ValueError, match="groups: need one per input"):
        mean_group_auroc(scores, labels, groups[:3])
