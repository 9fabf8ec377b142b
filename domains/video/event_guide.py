"""The event guide: a noise-conditional event classifier file and the guidance it gives a video model.

File (``torch.save`` of a plain dict, read weights-only): ``kind`` = "sciffusion-video-event-guide",
``format_version`` 1, ``net`` (:class:`~sciffusion.domains.video.networks.event_classifier.EventClassifierNetConfig`
as a dict), ``train`` (the :class:`~sciffusion.common.training.config.TrainConfig` it was trained with: its
loss kind and σ_data fix the input scaling), ``ema`` (weights), ``meta`` (steps, data, held-out accuracy).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from sciffusion.domains.video.networks.condition import VideoCondition
from sciffusion.domains.video.networks.event_classifier import EventClassifierNetConfig, NoisyEventClassifier

FILE_KIND = "sciffusion-video-event-guide"
FILE_VERSION = 1
BUNDLED_GUIDE = Path(__file__).resolve().parent / "data" / "video_driving_event_guide.pt"
#: ``video generate``'s guide strength when a guide is used and none is given: with the bundled guide on the
#: bundled event model (CFG 8, dpmpp_2m, 10 steps, 128 clips) judged cut-ins rise from 0.38 to 0.86 and
#: collisions from 0.66 to 0.84 (pixel rules: 0.34 to 0.50, 0.67 to 0.80; docs/video.md, twenty-first round);
#: 3 gives less, 30 no more.
DEFAULT_GUIDE_SCALE = 10.0


def take_event(cond: VideoCondition) -> tuple[VideoCondition, Tensor]:
    """The :data:`~sciffusion.common.training.classifier_module.LabelTaker` of video windows: the event
    label out of the condition, so the classifier sees only the frames."""
    if cond is None or cond.event is None:
        raise ValueError("event guide: training windows need event labels (a store written by make-driving)")
    return replace(cond, event=None), cond.event


def guide_file(net: nn.Module, config: EventClassifierNetConfig, train: Mapping[str, Any], meta: Mapping[str, Any]) -> dict:
    """The plain dict of the module docstring; ``net`` should be the EMA network."""
    return {"kind": FILE_KIND, "format_version": FILE_VERSION, "net": config.to_dict(), "train": dict(train),
            "ema": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "meta": dict(meta)}


@dataclass(frozen=True)
class LoadedEventGuide:
    """A guide file read back: network config, training config, network (eval, EMA weights), meta."""

    config: EventClassifierNetConfig
    train: Any
    net: nn.Module
    meta: dict

    def check_fits(self, model_config: Any, source: str) -> None:
        """One-line ValueError unless the guide reads the blocks of a video model with ``model_config``."""
        mine = (self.config.channels, self.config.past_frames, self.config.frames)
        theirs = (model_config.channels, model_config.past_frames, model_config.frames)
        if mine != theirs:
            raise ValueError(f"{source}: the event guide reads (channels, past frames, frames) = {mine}, the video model "
                             f"makes {theirs}")

    def log_prob(self, cond: VideoCondition, event: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """``(x [B, C, T, H, W] noisy block, σ [B]) -> log p_σ(event | x, past) [B]`` for
        :func:`~sciffusion.common.guidance.gradient.classifier_guidance`; ``event`` [B] indices."""
        from sciffusion.common.training.classifier_module import noisy_logits
        from sciffusion.common.training.losses import Preconditioning

        precond = Preconditioning(self.train.loss, self.train.sigma_data)
        cond = replace(cond, event=None)

        def log_prob(x: Tensor, sigma: Tensor) -> Tensor:
            logits = noisy_logits(self.net, precond, x, sigma, cond.to(x.device))
            return torch.log_softmax(logits, 1).gather(1, event.to(x.device).long().reshape(-1, 1))[:, 0]

        return log_prob


def read_guide_file(path: Path | str, map_location: Any = "cpu") -> LoadedEventGuide:
    """Read an event guide file (weights-only); one-line errors naming ``path``."""
    from sciffusion.common.io.checkpoint import check_file_kind, load_checkpoint
    from sciffusion.common.training.config import TrainConfig

    content = check_file_kind(load_checkpoint(path, map_location=map_location), str(path), FILE_KIND, FILE_VERSION,
                              "video event guide", "the file of 'sciffusion video train-guide'")
    try:
        config = EventClassifierNetConfig.from_dict(content["net"])
        train = TrainConfig.from_dict(content["train"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad event guide config ({' '.join(str(exc).split())})") from None
    net = NoisyEventClassifier(config)
    try:
        net.load_state_dict(content["ema"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise ValueError(f"{path}: weights do not fit the event guide config ({' '.join(str(exc).split())[:200]})") from None
    meta = content.get("meta", {})
    return LoadedEventGuide(config, train, net.eval(), dict(meta) if isinstance(meta, dict) else {})


__all__ = ["BUNDLED_GUIDE", "DEFAULT_GUIDE_SCALE", "FILE_KIND", "LoadedEventGuide", "guide_file", "read_guide_file", "take_event"]
