"""The rotation group SO(3): rotation-vector exp/log maps, Haar sampling, rotation angles.

A rotation vector ``v`` ([..., 3], radians) is an element of the Lie algebra so(3): axis v/|v|,
angle ω = |v| ∈ [0, π]. ``exp_map`` is Rodrigues' formula, ``log_map`` its inverse (via the unit
quaternion, stable near ω = 0 and ω = π).

Convention used everywhere in :mod:`sciffusion.common.manifolds`: tangent vectors act on the **left**
(space frame), R ← exp([v]×) R. A density's score at R is the rotation vector s with
d/dε log p(exp([ε u]×) R) |_{ε=0} = s · u for every unit u.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor


def hat(v: Tensor) -> Tensor:
    """Rotation vector [..., 3] → skew-symmetric matrix [v]× [..., 3, 3] (so [v]× w = v × w)."""
    if v.shape[-1] != 3:
        raise ValueError(f"v: last dimension must be 3, got shape {tuple(v.shape)}")
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape[:-1] + (3, 3))


def vee(m: Tensor) -> Tensor:
    """Skew part of [..., 3, 3] → vector [..., 3] (inverse of :func:`hat` on skew matrices)."""
    return 0.5 * torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                              m[..., 1, 0] - m[..., 0, 1]], dim=-1)


def exp_map(v: Tensor) -> Tensor:
    """Rodrigues: R = I + (sin ω/ω) K + ((1 − cos ω)/ω²) K², K = [v]×, ω = |v|.

    v: [..., 3] rotation vectors, radians. Returns [..., 3, 3]. Taylor series below ω = 1e-4.
    """
    k = hat(v)
    w2 = (v * v).sum(-1)
    small = w2 < 1e-8
    w2_safe = torch.where(small, torch.ones_like(w2), w2)
    w = w2_safe.sqrt()
    a = torch.where(small, 1 - w2 / 6 + w2 * w2 / 120, torch.sin(w) / w)
    b = torch.where(small, 0.5 - w2 / 24 + w2 * w2 / 720, (1 - torch.cos(w)) / w2_safe)
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand(k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_quaternion(r: Tensor) -> Tensor:
    """Rotation matrices [..., 3, 3] → unit quaternions (w, x, y, z) [..., 4] with w ≥ 0.

    Shepperd's method: of the four algebraically equivalent formulas, use the one whose pivot
    (4w², 4x², 4y², 4z²) is largest, so no division by a small number.
    """
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"r: need [..., 3, 3] matrices, got shape {tuple(r.shape)}")
    r00, r11, r22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    pivots = torch.stack([1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22,
                          1 - r00 - r11 + r22], dim=-1)
    p = 0.5 * pivots.clamp_min(1e-20).sqrt()  # 2|q_i| for each candidate pivot component
    d21, d02, d10 = r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]
    s01, s02, s12 = r[..., 0, 1] + r[..., 1, 0], r[..., 0, 2] + r[..., 2, 0], r[..., 1, 2] + r[..., 2, 1]
    p0, p1, p2, p3 = p.unbind(-1)
    cands = torch.stack([
        torch.stack([p0, d21 / (4 * p0), d02 / (4 * p0), d10 / (4 * p0)], -1),
        torch.stack([d21 / (4 * p1), p1, s01 / (4 * p1), s02 / (4 * p1)], -1),
        torch.stack([d02 / (4 * p2), s01 / (4 * p2), p2, s12 / (4 * p2)], -1),
        torch.stack([d10 / (4 * p3), s02 / (4 * p3), s12 / (4 * p3), p3], -1),
    ], dim=-2)  # [..., 4 candidates, 4]
    idx = pivots.argmax(-1)[..., None, None].expand(r.shape[:-2] + (1, 4))
    q = torch.gather(cands, -2, idx).squeeze(-2)
    q = q * torch.where(q[..., :1] < 0, -1.0, 1.0).to(q.dtype)
    return q / q.norm(dim=-1, keepdim=True)


def quaternion_to_rotvec(q: Tensor) -> Tensor:
    """Unit quaternions (w, x, y, z) [..., 4] → rotation vectors [..., 3] with angle in [0, π]."""
    q = q * torch.where(q[..., :1] < 0, -1.0, 1.0).to(q.dtype)
    w, xyz = q[..., 0], q[..., 1:]
    n2 = (xyz * xyz).sum(-1)
    small = n2 < 1e-12
    n = torch.where(small, torch.ones_like(n2), n2).sqrt()
    # angle / n = 2 atan2(n, w) / n; for n → 0 (w → 1): 2/w (1 − n²/(3 w²)).
    factor = torch.where(small, 2 / w * (1 - n2 / (3 * w * w)), 2 * torch.atan2(n, w) / n)
    return xyz * factor[..., None]


def log_map(r: Tensor) -> Tensor:
    """Inverse of :func:`exp_map`: rotation matrices [..., 3, 3] → rotation vectors [..., 3], angle
    in [0, π] (at exactly π the sign of the axis is arbitrary)."""
    return quaternion_to_rotvec(matrix_to_quaternion(r))


def rotation_angle(r: Tensor) -> Tensor:
    """Rotation angle ω ∈ [0, π] of [..., 3, 3] matrices, radians (the norm of :func:`log_map`)."""
    q = matrix_to_quaternion(r)
    return 2 * torch.atan2(q[..., 1:].norm(dim=-1), q[..., 0].abs())


def random_rotation(batch: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                    generator: Optional[torch.Generator] = None) -> Tensor:
    """``batch`` Haar-uniform rotations [batch, 3, 3] (normalised Gaussian quaternions)."""
    if batch < 0:
        raise ValueError(f"batch: must be >= 0, got {batch}")
    q = torch.randn(batch, 4, dtype=dtype, generator=generator, device=device)
    q = q / q.norm(dim=-1, keepdim=True)
    v = quaternion_to_rotvec(q)
    return exp_map(v)


def random_axis(shape: tuple[int, ...], *, dtype: torch.dtype = torch.float64,
                device: torch.device | str = "cpu", generator: Optional[torch.Generator] = None) -> Tensor:
    """Uniform unit vectors on S² of shape [*shape, 3]."""
    u = torch.randn(tuple(shape) + (3,), dtype=dtype, generator=generator, device=device)
    return u / u.norm(dim=-1, keepdim=True).clamp_min(1e-30)


def haar_angle_density(omega: Tensor) -> Tensor:
    """Density of the rotation angle ω ∈ [0, π] under the Haar (uniform) measure: (1 − cos ω)/π."""
    return (1 - torch.cos(omega)) / math.pi
