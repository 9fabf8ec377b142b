"""The video model as one typed configuration, and its model file (what ``predict`` and ``generate`` load).

:class:`VideoModelConfig` fixes the architecture (``spacetime``: the factorized space-time U-Net;
``concat``: the channel-stacking baseline), the frame format (channels C, size H = W) and the block
layout the model was trained on (T_past, T, T_future; events on/off). :func:`model_file` and
:func:`read_model_file` write and read a plain dict (weights-only loadable)::

    {"kind": "sciffusion-video-model", "format_version": 1, "model": VideoModelConfig dict,
     "train": TrainConfig dict, "ema": EMA state dict, "meta": {"step": ..., "data": ...}}

``meta["step"]`` counts the optimizer steps of the run that wrote the file; a fine-tuned file (``video train
--init-from``) also holds ``meta["total_steps"]`` (its own plus those of the file it started from, and so
back) and ``meta["init_from"]`` (that file's name, sha256 and steps): :func:`training_steps` reads either.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import torch
from torch import nn

from sciffusion.domains.video.events import EVENTS

ARCHS = ("spacetime", "concat")
DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_MODELS = {"smmnist": DATA_DIR / "video_smmnist_concat.pt", "driving": DATA_DIR / "video_driving.pt",
                  "driving-predict": DATA_DIR / "video_driving_predict.pt"}
"""The model files ``video predict`` / ``generate`` load without ``--model`` (see data/README.md). SM-MNIST:
the concat baseline, which beats the space-time U-Net (``video_smmnist.pt``, still shipped) at one sample
per clip, SSIM 0.506 against 0.461 and FVD 287 against 360 on 64 held-out clips (docs/video.md, session 18).
Driving: ``driving`` draws rare events on demand (``generate --event``); ``driving-predict``, the same network
trained 55 minutes longer without the change weight, continues colour clips (``predict``, ``generate
--context``): SSIM 0.676 / FVD 170 against 0.670 / 196 for ``driving`` on 128 held-out clips (copy-last
0.687 / 181), but from nothing it draws empty roads (docs/video.md, fourteenth round)."""
FILE_KIND = "sciffusion-video-model"
FILE_VERSION = 1


@dataclass(frozen=True)
class VideoModelConfig:
    """arch: ``spacetime`` or ``concat``. channels, size: frame format C and H = W (px). past_frames,
    frames, future_frames: the training block layout T_past, T, T_future (``spacetime`` also runs other
    counts; ``concat`` only these). events: condition on the driving event (:data:`EVENTS`). The rest
    sizes the U-Net: channels per level ``base_channels × channel_mults``, ``num_res_blocks`` per level,
    per-level ``spatial_attention`` and (spacetime) ``temporal_attention`` flags, attention ``heads``,
    GroupNorm ``groups``, ``embed_dim``, ``dropout``, and (spacetime) gradient ``checkpointing`` and
    ``patch_size`` (p × p pixels folded into channels), and (spacetime) ``past_channels`` k <= T_past: the
    last k past frames also stacked as input channels of every frame (MCVD's direct path)."""

    arch: Literal["spacetime", "concat"] = "spacetime"
    channels: int = 1
    size: int = 64
    past_frames: int = 2
    frames: int = 5
    future_frames: int = 0
    events: bool = False
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    spatial_attention: tuple[bool, ...] = (False, False, False)
    temporal_attention: tuple[bool, ...] = (False, True, True)
    heads: int = 4
    groups: int = 8
    embed_dim: int = 128
    dropout: float = 0.0
    checkpointing: bool = False
    patch_size: int = 1
    past_channels: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch: must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels: must be 1 or 3, got {self.channels}")
        if self.frames < 1 or self.past_frames < 0 or self.future_frames < 0:
            raise ValueError(f"frames: need frames >= 1 and past_frames, future_frames >= 0, got "
                             f"({self.frames}, {self.past_frames}, {self.future_frames})")
        levels = len(self.channel_mults)
        factor = self.patch_size * 2 ** (levels - 1)
        if self.size < 8 or self.size % factor:
            raise ValueError(f"size: {self.size} must be >= 8 and divisible by patch_size * 2^(levels - 1) = {factor}")
        if self.arch == "concat" and (self.checkpointing or self.patch_size != 1 or self.past_channels):
            raise ValueError("checkpointing, patch_size, past_channels: only the spacetime arch supports them")
        if not 0 <= self.past_channels <= self.past_frames:
            raise ValueError(f"past_channels: must be in [0, past_frames = {self.past_frames}], got {self.past_channels}")
        self.network_config()  # the network's own checks, raised now

    @property
    def num_events(self) -> int:
        return len(EVENTS) if self.events else 0

    def network_config(self):
        """The :class:`SpaceTimeUNetConfig` or :class:`ConcatUNetConfig` this config describes."""
        from sciffusion.common.networks.unet2d import UNet2DConfig
        from sciffusion.domains.video.networks import ConcatUNetConfig, SpaceTimeUNetConfig

        if self.arch == "spacetime":
            return SpaceTimeUNetConfig(
                channels=self.channels, base_channels=self.base_channels, channel_mults=self.channel_mults,
                num_res_blocks=self.num_res_blocks, spatial_attention=self.spatial_attention,
                temporal_attention=self.temporal_attention, heads=self.heads, groups=self.groups,
                embed_dim=self.embed_dim, dropout=self.dropout, num_events=self.num_events,
                checkpointing=self.checkpointing, patch_size=self.patch_size, past_channels=self.past_channels)
        unet = UNet2DConfig(base_channels=self.base_channels, channel_mults=self.channel_mults,
                            num_res_blocks=self.num_res_blocks, attention=self.spatial_attention, groups=self.groups,
                            embed_dim=self.embed_dim, dropout=self.dropout)
        return ConcatUNetConfig(channels=self.channels, past_frames=self.past_frames, frames=self.frames,
                                future_frames=self.future_frames, num_events=self.num_events, unet=unet)

    def network(self) -> nn.Module:
        """A freshly initialised network."""
        from sciffusion.domains.video.networks import ConcatUNet, SpaceTimeUNet

        cfg = self.network_config()
        return SpaceTimeUNet(cfg) if self.arch == "spacetime" else ConcatUNet(cfg)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "VideoModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"model: unknown keys {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def model_file(net: nn.Module, model: VideoModelConfig, train: Mapping[str, Any], meta: Mapping[str, Any]) -> dict:
    """The plain dict of the module docstring; ``net`` should be the EMA network."""
    return {"kind": FILE_KIND, "format_version": FILE_VERSION, "model": model.to_dict(), "train": dict(train),
            "ema": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "meta": dict(meta)}


@dataclass(frozen=True)
class LoadedVideoModel:
    """A model file read back: its config, the training config (loss kind, σ_d), the network (eval mode,
    EMA weights) and the file's meta."""

    config: VideoModelConfig
    train: Any
    net: nn.Module
    meta: dict


def read_model_file(path: Path | str, map_location: Any = "cpu") -> LoadedVideoModel:
    """Read a model file (weights-only), rebuild its network; one-line errors naming ``path``."""
    from sciffusion.common.io.checkpoint import check_file_kind, load_checkpoint
    from sciffusion.common.training.config import TrainConfig

    content = check_file_kind(load_checkpoint(path, map_location=map_location), str(path), FILE_KIND, FILE_VERSION,
                              "video model", "model.ckpt of 'sciffusion video train'")
    try:
        config = VideoModelConfig.from_dict(content["model"])
        train = TrainConfig.from_dict(content["train"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad video model config ({' '.join(str(exc).split())})") from None
    weights, meta = content.get("ema"), content.get("meta", {})
    if not isinstance(weights, dict):
        raise ValueError(f"{path}: 'ema' must be a dict of weight tensors, got {type(weights).__name__}")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: 'meta' must be a dict, got {type(meta).__name__}")
    bad = next((k for k, v in weights.items() if torch.is_tensor(v) and v.is_floating_point()
                and not bool(torch.isfinite(v).all())), None)
    if bad is not None:
        raise ValueError(f"{path}: weight {bad!r} holds NaN or inf values (a diverged or corrupt model)")
    net = config.network()
    try:
        net.load_state_dict(weights)
    except (KeyError, RuntimeError) as exc:  # the first line is only "Error(s) in loading state_dict for ..."
        detail = " ".join(str(exc).split())
        raise ValueError(f"{path}: weights do not fit the model config ({detail[:200]})") from None
    return LoadedVideoModel(config, train, net.eval(), dict(meta))


def training_steps(meta: Mapping[str, Any]) -> int | None:
    """All optimizer steps behind a model file's weights: ``total_steps`` where a fine-tuning run wrote it,
    else ``step`` (a run from scratch, or a file written before fine-tuning runs recorded their lineage)."""
    total = meta.get("total_steps")
    return meta.get("step") if total is None else total


def resolve_model_path(path: Path | str | None, default: str = "smmnist") -> Path:
    """``path``, or the bundled model ``default`` when None; a one-line error when neither exists."""
    if path is not None:
        return Path(path)
    bundled = BUNDLED_MODELS[default]
    if not bundled.is_file():
        raise FileNotFoundError(f"--model: no bundled {default} model in this install ({bundled.name}); pass "
                                "--model RUN_DIR/model.ckpt from 'sciffusion video train'")
    return bundled


__all__ = ["ARCHS", "BUNDLED_MODELS", "resolve_model_path", "FILE_KIND", "LoadedVideoModel", "VideoModelConfig", "model_file", "read_model_file",
           "training_steps"]
