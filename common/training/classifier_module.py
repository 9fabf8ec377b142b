"""Training a noise-conditional classifier for classifier guidance (Dhariwal & Nichol 2021).

The network is called like a denoiser network, ``net(x_in [B, ...], c_noise [B], cond) -> logits [B, K]``,
on x̂ = x0 + σε with the preconditioning's c_in(σ) x̂ and c_noise(σ) (:class:`~.losses.Preconditioning`),
σ from ``TrainConfig.sigma``; the loss is the cross-entropy of the true class. At sampling,
:meth:`NoisyClassifierModule.log_prob` is the ``log_prob(x, σ)`` of
:func:`~sciffusion.common.guidance.gradient.classifier_guidance`.

A batch is ``(x0, cond)`` like the denoiser's; ``take_label(cond) -> (cond for the network, labels [B])``
takes the class out of the condition (the default: ``cond`` is the labels tensor and the network gets
None), so the network never sees the class it must predict. Labels < 0 (unlabelled rows) are ignored.
The σ and noise of optimizer step k come from a generator seeded ``config.seed + k`` as in
:class:`~.module.DiffusionModule`.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.losses import Preconditioning
from sciffusion.common.training.module import TrainedNetModule, split_batch

LabelTaker = Callable[[Any], tuple[Any, Tensor]]


def labels_are_cond(cond: Any) -> tuple[Any, Tensor]:
    """The default :data:`LabelTaker`: the condition is the labels tensor [B]; the network gets None."""
    if not isinstance(cond, Tensor) or cond.dim() != 1:
        raise ValueError(f"cond: expected class labels [B], got {type(cond).__name__}")
    return None, cond


def noisy_logits(net: nn.Module, precond: Preconditioning, x: Tensor, sigma: Tensor, cond: Any = None) -> Tensor:
    """Logits [B, K] of ``net`` for noisy inputs ``x`` [B, ...] at noise levels ``sigma`` [B] (data units)."""
    from sciffusion.common.denoisers import expand_sigma, per_sample

    sigma = expand_sigma(sigma, x)
    _, _, c_in, c_noise = precond.coefficients(sigma)
    return net(per_sample(c_in, x) * x, c_noise, cond)


class NoisyClassifierModule(TrainedNetModule):
    """Trains ``net`` to classify σ-noised data (module docstring); EMA weights for sampling."""

    def __init__(self, net: nn.Module, config: TrainConfig | dict = TrainConfig(), take_label: LabelTaker = labels_are_cond):
        super().__init__()
        if isinstance(config, dict):
            config = TrainConfig.from_dict(config)
        self._setup(net, config, config.to_dict())
        self.precond = Preconditioning(config.loss, config.sigma_data)
        self.take_label = take_label

    def _loss(self, net: nn.Module, batch: Any, step: int) -> tuple[Tensor, Tensor]:
        x0, cond = split_batch(batch)
        cond, labels = self.take_label(cond)
        sigma, noise, _, _ = self._sigma_noise_draws(x0, step)
        from sciffusion.common.denoisers import per_sample

        logits = noisy_logits(net, self.precond, x0 + per_sample(sigma, x0) * noise, sigma, cond)
        labelled = labels >= 0
        loss = F.cross_entropy(logits[labelled], labels[labelled]) if bool(labelled.any()) else logits.sum() * 0
        accuracy = (logits.argmax(1) == labels)[labelled].float().mean() if bool(labelled.any()) else logits.new_zeros(())
        return loss, accuracy

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss, accuracy = self._loss(self.net, batch, self.global_step)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=len(split_batch(batch)[0]))
        self.log("train/accuracy", accuracy, on_step=True, on_epoch=False, batch_size=len(split_batch(batch)[0]))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss, accuracy = self._loss(self.ema.shadow, batch, 10**9 + batch_idx)  # the same draws every time
        n = len(split_batch(batch)[0])
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=n)
        self.log("val/accuracy", accuracy, sync_dist=True, batch_size=n)
        return loss

    def log_prob(self, label: Tensor, cond: Any = None, use_ema: bool = True) -> Callable[[Tensor, Tensor], Tensor]:
        """``(x [B, ...], σ [B]) -> log p_σ(label | x) [B]`` for classifier guidance; ``label`` [B] int."""
        net = self.ema.shadow if use_ema else self.net
        return lambda x, sigma: torch.log_softmax(noisy_logits(net, self.precond, x, sigma, cond), 1).gather(
            1, label.to(x.device).long().reshape(-1, 1))[:, 0]


__all__ = ["LabelTaker", "NoisyClassifierModule", "labels_are_cond", "noisy_logits"]
