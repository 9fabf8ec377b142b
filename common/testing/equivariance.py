"""Check that a function commutes with rotations (and optionally translations and reflections).

The caller declares how every input and every output transforms under a rigid motion
x ↦ Q x + t (Q a 3×3 orthogonal matrix, t [3] a translation) by naming its *kind*:

=================  ==========================================  ==================================
kind               moved value (``x`` [..., 3] for geometric)  example
=================  ==========================================  ==================================
``"invariant"``    x (unchanged; any object, not only tensors)  labels, distances, energies
``"scalar"``       x (same as ``"invariant"``)                  masses, per-item features
``"pseudoscalar"`` det(Q) · x                                   signed volumes, dihedral angles
``"vector"``       x Qᵀ                                         displacements, forces (1o)
``"pseudovector"`` det(Q) · x Qᵀ                                cross products, angular velocity (1e)
``"point"``        x Qᵀ + t                                     positions
=================  ==========================================  ==================================

For a proper rotation (det Q = +1) a pseudovector moves like a vector and a pseudoscalar not at all;
they differ only when ``parity=True`` adds reflections (Q = −R). A kind may also be a callable
``(x, Q, t) -> moved x`` for anything else.

:func:`assert_equivariant` draws Haar-random rotations (float64, :func:`random_rotation` of the core),
runs ``fn`` on the original and on the moved inputs and requires
``fn(moved inputs) == moved fn(inputs)`` output by output, to ``atol``. Idea after e3nn's
``e3nn.util.test.assert_equivariant`` (Geiger & Smidt); own implementation without e3nn.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from sciffusion.common.manifolds.so3 import random_rotation

MoveFn = Callable[[Any, Tensor, Tensor], Any]
Kind = Union[str, MoveFn]
KINDS = ("invariant", "scalar", "pseudoscalar", "vector", "pseudovector", "point")
DEFAULT_ATOL = {torch.float64: 1e-7, torch.float32: 1e-3, torch.float16: 1e-1, torch.bfloat16: 1e-1}
"""Tolerance per output dtype when ``atol`` is not given (absolute, in the output's units)."""


def move(x: Any, kind: Kind, rotation: Tensor, translation: Tensor) -> Any:
    """Apply x ↦ Q x + t to one value of the given kind (table in the module docstring).

    rotation: Q [3, 3] orthogonal (det ±1); translation: t [3]. Geometric values have last dimension 3
    and are cast to nothing: Q and t are cast to x's dtype and device.
    """
    if callable(kind):
        return kind(x, rotation, translation)
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {KINDS} or a callable, got {kind!r}")
    if kind in ("invariant", "scalar"):
        return x
    if not torch.is_tensor(x):
        raise ValueError(f"kind {kind!r}: needs a tensor, got {type(x).__name__}")
    q = rotation.to(dtype=x.dtype, device=x.device)
    det = torch.linalg.det(rotation.to(torch.float64)).round().to(dtype=x.dtype, device=x.device)
    if kind == "pseudoscalar":
        return det * x
    if x.shape[-1:] != (3,):
        raise ValueError(f"kind {kind!r}: last dimension must be 3, got shape {tuple(x.shape)}")
    if kind == "vector":
        return x @ q.T
    if kind == "pseudovector":
        return det * (x @ q.T)
    return x @ q.T + translation.to(dtype=x.dtype, device=x.device)


def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _check_kinds(kinds: Sequence[Kind], n: int, what: str) -> None:
    if len(kinds) != n:
        raise ValueError(f"transforms: {len(kinds)} {what} kind(s) declared for {n} {what}(s)")
    for k in kinds:
        if not callable(k) and k not in KINDS:
            raise ValueError(f"transforms: unknown {what} kind {k!r}; use one of {KINDS} or a callable")


def equivariance_errors(fn: Callable[..., Any], inputs: Sequence[Any], *,
                        transforms: tuple[Sequence[Kind], Sequence[Kind]], rotation: Tensor,
                        translation: Optional[Tensor] = None) -> list[float]:
    """Max absolute error per output of ``fn(moved inputs)`` against ``moved fn(inputs)`` for one motion.

    transforms: (input kinds, output kinds), one kind per input and per output of ``fn`` (``fn`` returns
    a tensor or a tuple/list of tensors). rotation: [3, 3]; translation: [3] or None (zero).
    """
    in_kinds, out_kinds = transforms
    _check_kinds(in_kinds, len(inputs), "input")
    t = torch.zeros(3, dtype=rotation.dtype) if translation is None else translation
    out = _as_tuple(fn(*inputs))
    _check_kinds(out_kinds, len(out), "output")
    out_moved = _as_tuple(fn(*[move(x, k, rotation, t) for x, k in zip(inputs, in_kinds)]))
    if len(out_moved) != len(out):
        raise ValueError(f"fn: {len(out)} outputs on the original inputs, {len(out_moved)} on the moved ones")
    errors = []
    for a, b, kind in zip(out, out_moved, out_kinds):
        expected = move(a, kind, rotation, t)
        if expected.shape != b.shape:
            raise AssertionError(f"output shape changed under the motion: {tuple(expected.shape)} vs {tuple(b.shape)}")
        errors.append(float((expected - b).detach().abs().max()) if b.numel() else 0.0)
    return errors


def assert_equivariant(fn: Callable[..., Any], inputs: Sequence[Any], *,
                       transforms: tuple[Sequence[Kind], Sequence[Kind]],
                       atol: Optional[float] = None, n_trials: int = 3, translate: bool = True,
                       parity: bool = False, generator: Optional[torch.Generator] = None) -> list[float]:
    """Assert ``fn(Q·inputs + t) == Q·fn(inputs) + t`` (each value moved as its kind says) for random motions.

    fn: called as ``fn(*inputs)``; returns a tensor or a tuple/list of tensors.
    inputs: the arguments; their dtype is the caller's choice (use float64 for tight tolerances).
    transforms: ``(input_kinds, output_kinds)``, e.g. ``(("point", "scalar"), ("vector",))``.
    atol: absolute tolerance per output element; default by the first output's dtype (:data:`DEFAULT_ATOL`).
    n_trials: number of random rotations (Haar, drawn in float64 from ``generator``).
    translate: also draw a translation t ~ N(0, I) Å per trial (matters only for ``"point"`` kinds).
    parity: every other trial uses the improper Q = −R (a rotation followed by inversion).
    Returns the max error per output over all trials; raises ``AssertionError`` naming every output's
    max error (and its kind) when one exceeds ``atol``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials: must be >= 1, got {n_trials}")
    worst: list[float] = []
    for trial in range(n_trials):
        r = random_rotation(1, dtype=torch.float64, generator=generator)[0]
        if parity and trial % 2 == 1:
            r = -r
        t = torch.randn(3, dtype=torch.float64, generator=generator) if translate else None
        errs = equivariance_errors(fn, inputs, transforms=(transforms[0], transforms[1]), rotation=r, translation=t)
        worst = errs if not worst else [max(a, b) for a, b in zip(worst, errs)]
    if atol is None:
        first = _as_tuple(fn(*inputs))[0]
        atol = DEFAULT_ATOL.get(first.dtype, 1e-3) if torch.is_tensor(first) else 1e-7
    if max(worst, default=0.0) > atol or any(e != e for e in worst):
        detail = ", ".join(f"output {i} ({_kind_name(k)}): {e:.3e}"
                           for i, (k, e) in enumerate(zip(transforms[1], worst)))
        raise AssertionError(f"not equivariant over {n_trials} random motion(s) (atol {atol:.1e}); "
                             f"max error per output: {detail}")
    return worst


def _kind_name(kind: Kind) -> str:
    return kind if isinstance(kind, str) else getattr(kind, "__name__", "callable")
