"""A LightningModule that trains a score network on a product process (ℝⁿ × SO(3) × tori, ragged parts).

The network is any ``nn.Module`` called as ``net(noisy_state, t [B], cond) -> {name: tangent score}``
(shapes of :mod:`~sciffusion.common.manifolds.product`: ``[B, ...]`` per dense part, ``[M, ...]`` per
ragged part). A batch is a product state ``{name: tensor [B, ...] or Ragged}`` or a pair
``(state, cond)``, ``cond`` being whatever the network also reads (e.g. a graph batch), passed through.

Sibling of :class:`~sciffusion.common.training.module.DiffusionModule`: both subclass
:class:`~sciffusion.common.training.module.TrainedNetModule` (network + EMA, AdamW with LR warm-up and
gradient clipping from a :class:`TrainConfig` — whose ``loss``/``sigma_data``/``sigma`` fields are not
used here —, the EMA update hook and ``from_checkpoint``).
Loss: :func:`~sciffusion.common.training.product_loss.product_score_loss` at t ~ U(0, 1) per sample.

Reproducibility: optimizer step k draws its times and noise from a generator seeded with
``seed + k·world + rank`` (``seed + k`` in one process), so a run resumed from a checkpoint sees exactly
the draws of an uninterrupted one. Under DDP each rank perturbs its own batch with its own draws.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.manifolds.product import Part, ProductProcess, ProductResult, ScoreFn, State, Tangents, values_of
from sciffusion.common.manifolds.ragged import RaggedShape
from sciffusion.common.noise import rand
from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.module import TrainedNetModule
from sciffusion.common.training.product_loss import ProductLoss, ProductLossConfig, product_score_loss
from sciffusion.common.training.precision import autocast_off


@dataclass(frozen=True)
class ProductTrainConfig:
    """The process being learned, the shared :class:`TrainConfig` (optimiser, EMA, clipping, seed)
    and the :class:`ProductLossConfig`; saved as the checkpoint's hparams ``config``."""

    process: ProductProcess
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: ProductLossConfig = field(default_factory=ProductLossConfig)

    def __post_init__(self) -> None:
        for name, kind in (("process", ProductProcess), ("train", TrainConfig), ("loss", ProductLossConfig)):
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"{name}: must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")
        unknown = set(self.loss.weights) - set(self.process.components)
        if unknown:
            raise ValueError(f"loss weights: unknown components {sorted(unknown)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict."""
        return {"process": self.process.to_dict(), "train": self.train.to_dict(), "loss": self.loss.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ProductTrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"product train config: unknown keys {sorted(unknown)}")
        if "process" not in d:
            raise ValueError("product train config: missing 'process'")
        return cls(ProductProcess.from_dict(d["process"]), TrainConfig.from_dict(d.get("train", {})),
                   ProductLossConfig.from_dict(d.get("loss", {})))


def split_product_batch(batch: Any) -> tuple[State, Any]:
    """``state`` or ``(state, cond)`` → ``(state, cond)``; a state is a dict of parts."""
    if isinstance(batch, Mapping):
        return dict(batch), None
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], Mapping):
        return dict(batch[0]), batch[1]
    raise ValueError(f"batch: expected a state dict or (state, cond), got {type(batch).__name__}")


def _float_dtype(state: Mapping[str, Part]) -> torch.dtype:
    return next((values_of(p).dtype for p in state.values() if values_of(p).is_floating_point()), torch.float32)


class ProductDiffusionModule(TrainedNetModule):
    """Trains ``net`` as a product-space score with the loss of ``config`` (module docstring); network,
    EMA, optimiser, clipping and :meth:`from_checkpoint` are the core's shared ones."""

    def __init__(self, net: nn.Module, config: ProductTrainConfig | dict):
        super().__init__()
        if isinstance(config, Mapping):
            config = ProductTrainConfig.from_dict(config)
        if not isinstance(config, ProductTrainConfig):
            raise ValueError(f"config: must be a ProductTrainConfig, got {type(config).__name__}")
        self.product_config = config
        self.process = config.process
        self._setup(net, config.train, config.to_dict())

    # ---- scores ------------------------------------------------------------------------------------
    def scores(self, state: State, t: Tensor, cond: Any = None, use_ema: bool = False) -> Tangents:
        """``net(state, t [B], cond)`` with the training or EMA weights, shapes checked."""
        out = (self.ema.shadow if use_ema else self.net)(state, t, cond)
        return self.process.check_tangents(state, out)

    def score_fn(self, cond: Any = None, use_ema: bool = True) -> ScoreFn:
        """The product samplers' ``score_fn(state, t)`` with ``cond`` bound."""
        return lambda state, t: self.scores(state, t, cond, use_ema)

    # ---- training ----------------------------------------------------------------------------------
    def step_generator(self, step: int) -> torch.Generator:
        """The CPU generator of optimizer step ``step`` on this rank (module docstring)."""
        world, rank = 1, 0
        if self._trainer is not None:
            world, rank = self.trainer.world_size, self.trainer.global_rank
        return torch.Generator().manual_seed(self.config.seed + step * world + rank)

    def loss(self, net: nn.Module, state0: State, cond: Any, generator: torch.Generator) -> ProductLoss:
        """Draw t ~ U(0, 1) per sample and the noisy state, then the product DSM loss of ``net``. Under mixed
        precision only ``net`` runs in autocast: the forward process and the loss stay in the state's dtype."""
        ref = values_of(next(iter(state0.values())))
        t = rand(self.process.batch_size(state0), generator=generator, dtype=torch.float64, device=ref.device)
        with autocast_off():
            noisy, targets = self.process.perturb(state0, t, generator)
        t_in = t.to(_float_dtype(state0))
        predicted = self.process.check_tangents(noisy, net(noisy, t_in, cond))
        with autocast_off():
            return product_score_loss(self.process, predicted, targets, noisy, t, self.product_config.loss)

    def _log(self, prefix: str, loss: ProductLoss, batch_size: int, **kw: Any) -> None:
        self.log(f"{prefix}/loss", loss.total, prog_bar=True, batch_size=batch_size, **kw)
        for k, v in loss.components.items():
            self.log(f"{prefix}/loss_{k}", v, batch_size=batch_size, **kw)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        state0, cond = split_product_batch(batch)
        loss = self.loss(self.net, state0, cond, self.step_generator(self.global_step))
        self._log("train", loss, self.process.batch_size(state0), on_step=True, on_epoch=False)
        return loss.total

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        state0, cond = split_product_batch(batch)
        loss = self.loss(self.ema.shadow, state0, cond, self.step_generator(10**9 + batch_idx))  # same draws each time
        self._log("val", loss, self.process.batch_size(state0), sync_dist=True)
        return loss.total

    # ---- sampling ----------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, shapes: Mapping[str, tuple[int, ...] | RaggedShape], *, sampler: str = "heun", steps: int = 20,
               cond: Any = None, generator: Optional[torch.Generator] = None, use_ema: bool = True,
               callback: Any = None) -> ProductResult:
        """Draw samples with a registered product sampler on a uniform t grid from the prior;
        ``shapes`` as for :meth:`ProductProcess.prior`; ``generator`` (CPU) seeds prior and noise."""
        from sciffusion.common.samplers.product import get_product_sampler, uniform_t_grid

        spec = get_product_sampler(sampler)
        state = self.process.prior(shapes, self.dtype, generator, self.device)
        return spec(self.process, self.score_fn(cond, use_ema), uniform_t_grid(steps), state,
                    generator=generator, callback=callback)


__all__ = ["ProductDiffusionModule", "ProductTrainConfig", "split_product_batch"]
