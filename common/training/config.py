"""Typed configuration of :class:`~sciffusion.common.training.module.DiffusionModule`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from sciffusion.common.training.losses import LOSS_KINDS, LossKind, SigmaDistribution


@dataclass(frozen=True)
class TrainConfig:
    """Loss kind (``edm``/``eps``/``v``, see :mod:`~sciffusion.common.training.losses`), σ_d (data
    units, edm only), AdamW ``lr``/``weight_decay``/``betas``, linear LR warm-up in optimizer steps,
    EMA ``ema_decay`` (+ warm-up), the training σ distribution, gradient-norm clipping (None = off),
    the ``seed`` of the per-step σ/noise draws (step k uses ``seed + k``) and ``cond_dropout``, the
    probability that a training sample's condition is replaced by the null condition (classifier-free
    guidance training, Ho & Salimans 2022; see :func:`~sciffusion.common.training.module.drop_condition`)."""

    loss: LossKind = "edm"
    sigma_data: float = 0.5
    lr: float = 2e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    lr_warmup_steps: int = 0
    ema_decay: float = 0.999
    ema_warmup: bool = True
    sigma: SigmaDistribution = field(default_factory=SigmaDistribution)
    grad_clip: Optional[float] = 1.0
    seed: int = 0
    cond_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"loss: must be one of {', '.join(LOSS_KINDS)}, got {self.loss!r}")
        if self.sigma_data <= 0:
            raise ValueError(f"sigma_data: must be > 0, got {self.sigma_data}")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay: must be >= 0, got {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas: need two values in [0, 1), got {self.betas}")
        if self.lr_warmup_steps < 0:
            raise ValueError(f"lr_warmup_steps: must be >= 0, got {self.lr_warmup_steps}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay: must be in [0, 1), got {self.ema_decay}")
        if not isinstance(self.sigma, SigmaDistribution):
            raise ValueError(f"sigma: must be a SigmaDistribution, got {type(self.sigma).__name__}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip: must be > 0 or None, got {self.grad_clip}")
        if not 0 <= self.cond_dropout <= 1:
            raise ValueError(f"cond_dropout: must be in [0, 1], got {self.cond_dropout}")

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict (the resolved config saved in checkpoints)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"train config: unknown keys {sorted(unknown)}")
        d = dict(d)
        if isinstance(d.get("sigma"), dict):
            d["sigma"] = SigmaDistribution(**d["sigma"])
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


__all__ = ["TrainConfig"]
