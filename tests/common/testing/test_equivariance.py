"""assert_equivariant: passes for equivariant maps, fails (AssertionError) for broken ones."""
from __future__ import annotations

import pytest
import torch

from sciffusion.common.manifolds.so3 import random_rotation
from sciffusion.common.testing import assert_equivariant, equivariance_errors, move


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def _x(gen, n=5):
    return torch.randn(n, 3, dtype=torch.float64, generator=gen)


def test_vector_times_norm_is_equivariant(gen):
    """x ↦ x·|x| (a vector field of vectors) commutes with rotations, to float64 round-off."""
    errors = assert_equivariant(lambda x: x * x.norm(dim=-1, keepdim=True), [_x(gen)],
                                transforms=(("vector",), ("vector",)), atol=1e-12, generator=gen)
    assert len(errors) == 1 and errors[0] < 1e-12


def test_non_equivariant_function_fails_with_error_per_output(gen):
    """Negative control: adding a fixed direction is not rotation-equivariant; the message names each output."""
    def fn(x):
        return x + torch.tensor([1.0, 0.0, 0.0], dtype=x.dtype), x.norm(dim=-1)

    with pytest.raises(AssertionError, match=r"output 0 \(vector\): [0-9.e+-]+, output 1 \(scalar\): [0-9.e+-]+"):
        assert_equivariant(fn, [_x(gen)], transforms=(("vector",), ("vector", "scalar")), generator=gen)


def test_wrong_declared_kind_fails(gen):
    """A vector output (the sum of vectors) declared a scalar fails."""
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda x: x.sum(0), [_x(gen)], transforms=(("vector",), ("scalar",)), generator=gen)


def test_points_under_translation(gen):
    """Centroid of points is a point; pairwise distances are invariant; the mean declared a vector fails
    once translations are drawn, and passes with translate=False."""
    x = _x(gen)
    assert_equivariant(lambda p: p.mean(0), [x], transforms=(("point",), ("point",)), atol=1e-12, generator=gen)
    assert_equivariant(lambda p: torch.cdist(p, p), [x], transforms=(("point",), ("invariant",)), atol=1e-12,
                       generator=gen)
    with pytest.raises(AssertionError, match=r"output 0 \(vector\)"):
        assert_equivariant(lambda p: p.mean(0), [x], transforms=(("point",), ("vector",)), generator=gen)
    assert_equivariant(lambda p: p.mean(0), [x], transforms=(("point",), ("vector",)), translate=False,
                       atol=1e-12, generator=gen)


def test_parity_separates_vectors_from_pseudovectors(gen):
    """a × b is a pseudovector: passes with parity as one, fails with parity as a vector, passes without parity."""
    a, b = _x(gen), _x(gen)
    cross = lambda u, v: torch.linalg.cross(u, v)  # noqa: E731
    assert_equivariant(cross, [a, b], transforms=(("vector", "vector"), ("pseudovector",)), parity=True,
                       n_trials=4, atol=1e-12, generator=gen)
    assert_equivariant(cross, [a, b], transforms=(("vector", "vector"), ("vector",)), atol=1e-12, generator=gen)
    with pytest.raises(AssertionError, match="pseudo|vector"):
        assert_equivariant(cross, [a, b], transforms=(("vector", "vector"), ("vector",)), parity=True,
                           generator=gen)
    triple = lambda u, v, w: (torch.linalg.cross(u, v) * w).sum(-1)  # noqa: E731
    assert_equivariant(triple, [a, b, _x(gen)], transforms=(("vector",) * 3, ("pseudoscalar",)), parity=True,
                       n_trials=2, atol=1e-12, generator=gen)


def test_invariant_inputs_pass_through_and_custom_kinds(gen):
    """Non-tensor invariant inputs are passed unchanged; a callable kind moves a [n, 3, 3] stack of frames."""
    x = _x(gen)
    frames = torch.linalg.qr(torch.randn(4, 3, 3, dtype=torch.float64, generator=gen)).Q
    rotate_frames = lambda f, q, t: q @ f  # noqa: E731  (left action on frames)
    assert_equivariant(lambda p, scale, f: (scale * p, f @ f.transpose(-1, -2)), [x, 2.0, frames],
                       transforms=(("vector", "invariant", rotate_frames), ("vector", "invariant")),
                       atol=1e-12, generator=gen)


def test_errors_for_one_known_motion_and_bad_declarations():
    """equivariance_errors with a fixed rotation; kind/arity mistakes are ValueErrors, not silent passes."""
    q = random_rotation(1, generator=torch.Generator().manual_seed(3))[0]
    x = torch.eye(3, dtype=torch.float64)
    assert equivariance_errors(lambda v: v + 1.0, [x], transforms=(("vector",), ("vector",)), rotation=q)[0] > 0.1
    assert torch.allclose(move(x, "vector", q, torch.zeros(3)), x @ q.T)
    with pytest.raises(ValueError, match="unknown input kind"):
        equivariance_errors(lambda v: v, [x], transforms=(("axial",), ("vector",)), rotation=q)
    with pytest.raises(ValueError, match="1 output kind"):
        equivariance_errors(lambda v: (v, v), [x], transforms=(("vector",), ("vector",)), rotation=q)
    with pytest.raises(ValueError, match="n_trials"):
        assert_equivariant(lambda v: v, [x], transforms=(("vector",), ("vector",)), n_trials=0)
