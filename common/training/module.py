"""One LightningModule for every domain: a network, a preconditioning/loss, AdamW, EMA, sampling.

The network is any ``nn.Module`` called as ``net(x_in [B, ...], c_noise [B], cond) -> [B, ...]``
(see :mod:`~sciffusion.common.training.losses` for x_in and c_noise). Data comes from the domain's
own ``LightningDataModule``; a batch is a tensor ``x0 [B, ...]``, a pair ``(x0, cond)``, or a triple
``(x0, cond, weight)`` whose per-element loss weight (broadcastable to x0, see
:meth:`~sciffusion.common.training.losses.Preconditioning.loss`) applies in training only: validation
reports the plain loss, comparable between runs with and without weights.

Condition dropout (``TrainConfig.cond_dropout`` = p): each training sample's ``cond`` is replaced with
probability p by the null condition (:func:`drop_condition`), so one network learns D(x, σ, cond) and
D(x, σ, ∅) for classifier-free guidance (:func:`~sciffusion.common.guidance.cfg.cfg`). The keep/drop
draws come from the same per-step generator, after σ and noise, so they do not change those draws.

Reproducibility: the σ and noise draws of optimizer step k come from a generator seeded with
``config.seed + k`` (k = ``global_step``), so a run resumed from a checkpoint sees exactly the
draws of an uninterrupted one. Under data parallelism each rank draws the *global* batch
(B_local × world size) and keeps rows ``rank::world``, matching ``DistributedSampler``'s interleaving:
with an unshuffled loader, DDP on W processes and one process on the same global batch see the same
(x0, σ, noise) triples.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from sciffusion.common.grids import karras_grid
from sciffusion.common.noise import randn
from sciffusion.common.samplers.base import SampleResult, StepCallback
from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.ema import ExponentialMovingAverage
from sciffusion.common.training.losses import Preconditioning


def drop_condition(cond: Any, keep: Tensor) -> Any:
    """Replace the condition of rows where ``keep`` ([B] bool) is False by the null condition.

    Generic over the condition's type: None stays None; an object with a ``dropped(keep)`` method
    decides itself (e.g. a video condition that drops only its event label); an integer tensor
    ``[B, ...]`` gets -1 ("no label", see :class:`~sciffusion.common.networks.LabelEmbedding`); a
    float or bool tensor ``[B, ...]`` gets zeros; mappings, tuples, lists and dataclasses are handled
    field by field; anything else (a per-batch constant such as a string) is returned unchanged.
    """
    if cond is None:
        return None
    if hasattr(cond, "dropped"):
        return cond.dropped(keep)
    if isinstance(cond, Tensor):
        if cond.dim() == 0 or cond.shape[0] != keep.shape[0]:
            raise ValueError(f"cond: tensor of shape {tuple(cond.shape)} has no batch axis of {keep.shape[0]} rows")
        mask = keep.to(cond.device).reshape((-1,) + (1,) * (cond.dim() - 1))
        if cond.dtype.is_floating_point or cond.dtype == torch.bool or cond.is_complex():
            return torch.where(mask, cond, torch.zeros((), dtype=cond.dtype, device=cond.device))
        return torch.where(mask, cond, torch.full((), -1, dtype=cond.dtype, device=cond.device))
    if isinstance(cond, Mapping):
        return type(cond)({k: drop_condition(v, keep) for k, v in cond.items()})
    if isinstance(cond, (tuple, list)):
        return type(cond)(drop_condition(v, keep) for v in cond)
    if dataclasses.is_dataclass(cond) and not isinstance(cond, type):
        return dataclasses.replace(cond, **{f.name: drop_condition(getattr(cond, f.name), keep)
                                            for f in dataclasses.fields(cond) if f.init})
    return cond


def split_batch(batch: Any) -> tuple[Tensor, Any]:
    """``x0``, ``(x0, cond)`` or ``(x0, cond, weight)`` → ``(x0, cond)``."""
    x0, cond, _ = split_weighted_batch(batch)
    return x0, cond


def split_weighted_batch(batch: Any) -> tuple[Tensor, Any, Optional[Tensor]]:
    """``x0``, ``(x0, cond)`` or ``(x0, cond, weight)`` → ``(x0, cond, weight or None)``."""
    if isinstance(batch, Tensor):
        return batch, None, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 3 and isinstance(batch[0], Tensor):
        weight = batch[2] if len(batch) == 3 else None
        if weight is not None and not isinstance(weight, Tensor):
            raise ValueError(f"batch: the loss weight must be a tensor, got {type(weight).__name__}")
        return batch[0], batch[1] if len(batch) > 1 else None, weight
    raise ValueError(f"batch: expected a tensor, (x0, cond) or (x0, cond, weight), got {type(batch).__name__}")


class TrainedNetModule(pl.LightningModule):
    """What every training module of the core shares: a network ``net`` with its EMA copy, the
    optimiser and clipping of a :class:`TrainConfig` (``self.config``), the EMA update after each
    optimizer step, and :meth:`from_checkpoint`. Subclasses define the loss (``training_step``)."""

    def _setup(self, net: nn.Module, train: TrainConfig, hparams_config: dict) -> None:
        """Store ``net``, its EMA and ``train``; save ``hparams_config`` as hyperparameter ``config``."""
        self.config = train
        self.save_hyperparameters({"config": hparams_config})
        self.net = net
        self.ema = ExponentialMovingAverage(net, train.ema_decay, train.ema_warmup)

    @classmethod
    def from_checkpoint(cls, path: Path | str, net: nn.Module, *, trust: bool = False,
                        map_location: Any = "cpu") -> "TrainedNetModule":
        """Rebuild a module saved by a Lightning ``Trainer`` around ``net`` (same architecture): config from
        the hparams, training and EMA weights from the state dict. Reads the file with
        :func:`~sciffusion.common.io.checkpoint.load_checkpoint` (weights-only unless ``trust``)."""
        from sciffusion.common.io.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path, trust=trust, map_location=map_location)
        config = ckpt.get("hyper_parameters", {}).get("config") if isinstance(ckpt, dict) else None
        if not isinstance(config, dict) or not isinstance(ckpt.get("state_dict"), dict):
            raise ValueError(f"{path}: not a {cls.__name__} checkpoint (no hyper_parameters.config/state_dict)")
        module = cls(net, config)
        try:
            module.load_state_dict(ckpt["state_dict"])
        except RuntimeError as exc:
            lines = [line.strip() for line in str(exc).strip().splitlines()]
            detail = lines[1] if len(lines) > 1 else lines[0]
            detail = detail if len(detail) <= 160 else detail[:159] + "…"
            raise ValueError(f"{path}: weights do not fit this network ({detail})") from None
        return module

    def _sigma_noise_draws(self, x0: Tensor, step: int
                           ) -> tuple[Tensor, Tensor, torch.Generator, tuple[int, int, int]]:
        """(σ [B], noise like ``x0``, the generator, (global batch, world size, rank)) of optimizer step
        ``step``: one generator seeded ``seed + step`` draws the global batch's σ, then its noise, and each
        rank keeps rows ``rank::world`` (so the draws do not depend on the device count)."""
        world, rank = 1, 0
        if self._trainer is not None:
            world, rank = self.trainer.world_size, self.trainer.global_rank
        g = torch.Generator().manual_seed(self.config.seed + step)
        total = len(x0) * world
        sigma = self.config.sigma.sample(total, g, dtype=x0.dtype)[rank::world]
        noise = torch.randn((total, *x0.shape[1:]), generator=g, dtype=x0.dtype)[rank::world]
        return sigma.to(x0.device), noise.to(x0.device), g, (total, world, rank)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.ema.update(self.net)

    def configure_optimizers(self):
        c = self.config
        opt = torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay, betas=c.betas)
        if c.lr_warmup_steps == 0:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / c.lr_warmup_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        clip = self.config.grad_clip if gradient_clip_val is None else gradient_clip_val
        if clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")


class DiffusionModule(TrainedNetModule):
    """Trains ``net`` as a denoiser with the loss of ``config`` (saved as hparams ``config``)."""

    def __init__(self, net: nn.Module, config: TrainConfig | dict = TrainConfig()):
        super().__init__()
        if isinstance(config, dict):
            config = TrainConfig.from_dict(config)
        self._setup(net, config, config.to_dict())
        self.precond = Preconditioning(config.loss, config.sigma_data)

    # ---- denoisers -----------------------------------------------------------------------------
    def denoise(self, x: Tensor, sigma: Tensor | float, cond: Any = None, use_ema: bool = False) -> Tensor:
        """D(x [B, ...], σ [B] or scalar, cond) → x0 estimate, with the training or EMA weights."""
        return self.precond.denoise(self.ema.shadow if use_ema else self.net, x, sigma, cond)

    def denoiser(self, cond: Any = None, use_ema: bool = True) -> Callable[[Tensor, Tensor], Tensor]:
        """The sampler-signature denoiser ``(x, sigma) -> x0`` with ``cond`` bound."""
        return lambda x, sigma: self.denoise(x, sigma, cond, use_ema)

    # ---- training --------------------------------------------------------------------------------
    def step_draws(self, x0: Tensor, step: int) -> tuple[Tensor, Tensor]:
        """σ ``[B]`` and noise (shape of x0) for optimizer step ``step`` on this rank (module docstring; Lightning's automatic sampler shuffles, so pass your own unshuffled DistributedSampler with use_distributed_sampler=False for that identity)."""
        sigma, noise, _ = self._draws(x0, step)
        return sigma, noise

    def _draws(self, x0: Tensor, step: int) -> tuple[Tensor, Tensor, Tensor]:
        """(σ [B], noise, keep [B] bool) of step ``step``: :meth:`~TrainedNetModule._sigma_noise_draws`,
        then ``keep`` (True with probability 1 − ``cond_dropout``) from the same generator, so it leaves σ
        and noise as they were without it."""
        sigma, noise, g, (total, world, rank) = self._sigma_noise_draws(x0, step)
        keep = (torch.rand(total, generator=g) >= self.config.cond_dropout)[rank::world]
        return sigma, noise, keep.to(x0.device)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x0, cond, weight = split_weighted_batch(batch)
        sigma, noise, keep = self._draws(x0, self.global_step)
        if cond is not None and self.config.cond_dropout > 0:
            cond = drop_condition(cond, keep)
        loss = self.precond.loss(self.net, x0, sigma, noise, cond, weight).mean()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=len(x0))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        x0, cond = split_batch(batch)
        sigma, noise = self.step_draws(x0, 10**9 + batch_idx)  # the same draws at every validation
        loss = self.precond.loss(self.ema.shadow, x0, sigma, noise, cond).mean()
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=len(x0))
        return loss

    # ---- sampling ----------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, shape: tuple[int, ...], *, sampler: str = "dpmpp_2m", steps: int = 20,
               sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, cond: Any = None,
               generator: Optional[torch.Generator] = None, use_ema: bool = True,
               callback: Optional[StepCallback] = None) -> SampleResult:
        """Draw ``shape`` = ``(B, ...)`` samples with a registered sampler on a Karras grid (σ in data
        units). ``generator`` (CPU) seeds the initial noise and any stochastic sampler."""
        from sciffusion.common.samplers.registry import get_sampler

        spec = get_sampler(sampler)
        sigmas = karras_grid(steps, sigma_min, sigma_max, rho).to(self.device)
        x = randn(shape, generator=generator).to(self.device) * sigmas[0]  # no generator: CPU global RNG
        return spec(self.denoiser(cond, use_ema), sigmas, x, generator=generator, callback=callback)


__all__ = ["DiffusionModule", "TrainedNetModule", "drop_condition", "split_batch", "split_weighted_batch"]
