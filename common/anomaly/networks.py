"""The denoiser network a detector trains when none is given, chosen from the input shape.

* ``[C, H, W]`` images: :class:`~sciffusion.common.networks.unet2d.UNet2D`.
* ``[C, T, H, W]`` clips: the same U-Net on the T frames stacked as C·T channels (a frame-stack
  denoiser: it sees the whole clip at once, so motion that breaks the clip's statistics raises its
  score; a detector rebuilds its network from this config, so the video issue's space-time U-Net
  cannot replace it yet).
* ``[C, T, H, W]`` clips with ``context_frames`` P > 0: a *context* denoiser of the next
  ``target_frames`` K frames given the P frames before them (:class:`ContextStack`: the U-Net sees the
  noisy K frames and the clean P frames stacked as channels, MCVD's "concat" conditioning), trained on
  random windows and read by the ``predictive`` score (:mod:`~sciffusion.common.anomaly.predictive`).
* ``[d]`` vectors (PyOD's tabular case): a residual MLP with a Fourier embedding of c_noise.
* ``external``: a network some other layer builds (e.g. the video domain's space-time U-Net as a
  context denoiser), by a builder registered under that name (:func:`register_network`) from the
  plain-dict ``external_config``; the detector file keeps the name, the config and the weights. The
  same weights may also serve the unconditional scores (``context_frames`` 0,
  :meth:`DenoiserNetConfig.unconditional`) when the builder makes that form.

Every network follows the :class:`~sciffusion.common.training.DiffusionModule` contract
``net(x_in [B, ...], c_noise [B], cond) -> [B, ...]``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.networks.unet2d import FourierEmbedding, UNet2D, UNet2DConfig


@dataclass(frozen=True)
class DenoiserNetConfig:
    """``sample_shape`` (one input, no batch axis), U-Net ``base_channels`` and maximum ``depth``
    (levels; fewer when H, W are not divisible), MLP ``hidden`` width and ``blocks``; ``unet`` a full
    U-Net configuration that replaces the derived one (e.g. that of a checkpoint to fine-tune);
    ``context_frames`` P and ``target_frames`` K of a context denoiser (clips only; P = 0: none)."""

    sample_shape: tuple[int, ...]
    base_channels: int = 32
    depth: int = 3
    hidden: int = 256
    blocks: int = 3
    unet: Optional[UNet2DConfig] = None
    context_frames: int = 0
    target_frames: int = 1
    external: Optional[str] = None
    external_config: Optional[dict] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sample_shape", tuple(int(s) for s in self.sample_shape))
        if len(self.sample_shape) not in (1, 3, 4) or min(self.sample_shape) < 1:
            raise ValueError(f"sample_shape: need [d], [C, H, W] or [C, T, H, W], got {list(self.sample_shape)}")
        if isinstance(self.unet, dict):
            unet = {k: tuple(v) if isinstance(v, list) else v for k, v in self.unet.items()}
            object.__setattr__(self, "unet", UNet2DConfig(**unet))
        if self.unet is not None and len(self.sample_shape) == 1:
            raise ValueError("unet: only for image or clip inputs, not vectors")
        if self.base_channels < 8 or self.base_channels % 8 or self.depth < 1 or self.hidden < 2 or self.blocks < 1:
            raise ValueError("net: base_channels must be a multiple of 8, depth/blocks >= 1, hidden >= 2")
        if self.context_frames < 0 or self.target_frames < 1:
            raise ValueError(f"context/target frames: need >= 0 and >= 1, got ({self.context_frames}, "
                             f"{self.target_frames})")
        if self.external is not None and (self.unet is not None or not isinstance(self.external_config, dict)):
            raise ValueError(f"network {self.external!r}: an external network needs its config as a dict and no unet")
        if self.context_frames and (len(self.sample_shape) != 4 or
                                    self.context_frames + self.target_frames > self.sample_shape[1]):
            raise ValueError(f"context frames: need clips [C, T, H, W] with T >= {self.context_frames} + "
                             f"{self.target_frames}, got {list(self.sample_shape)}")

    @property
    def kind(self) -> str:
        if self.external is not None:
            return "context" if self.context_frames else "external"
        if self.context_frames:
            return "context"
        return {1: "mlp", 3: "unet2d", 4: "framestack"}[len(self.sample_shape)]

    def unet_config(self) -> UNet2DConfig:
        shape = self.sample_shape
        channels = shape[0] * (shape[1] if len(shape) == 4 else 1)
        out = None
        if self.context_frames:
            channels, out = shape[0] * (self.context_frames + self.target_frames), shape[0] * self.target_frames
        if self.unet is not None:
            if self.unet.in_channels != channels or self.unet.head_channels != (out or channels):
                raise ValueError(f"unet: {self.unet.in_channels} input and {self.unet.head_channels} output "
                                 f"channels, a {self.kind} network for inputs of shape {list(shape)} needs "
                                 f"{channels} and {out or channels}")
            return self.unet
        h, w = shape[-2:]
        levels = 1
        while levels < self.depth and h % 2**levels == 0 and w % 2**levels == 0:
            levels += 1
        mults = tuple(min(2, i + 1) for i in range(levels))
        return UNet2DConfig(in_channels=channels, out_channels=out, base_channels=self.base_channels,
                            channel_mults=mults, num_res_blocks=1, attention=(False,) * levels, groups=8)

    def build(self) -> nn.Module:
        if self.external is not None:
            if self.external not in NETWORK_BUILDERS:
                raise ValueError(f"network {self.external!r}: no builder registered (known: "
                                 f"{', '.join(sorted(NETWORK_BUILDERS)) or 'none'}); import the module that "
                                 "registers it (sciffusion.pipelines.ood registers 'video')")
            return NETWORK_BUILDERS[self.external](self)
        if self.kind == "mlp":
            return ResidualMLP(self.sample_shape[0], self.hidden, self.blocks)
        unet = UNet2D(self.unet_config())
        if self.kind == "context":
            return ContextStack(unet, self.context_frames)
        return unet if self.kind == "unet2d" else FrameStack(unet)

    def unconditional(self) -> "DenoiserNetConfig":
        """An external context network's unconditional form: ``context_frames`` 0, a denoiser of whole
        inputs with the same weights, when its builder makes one (the video domain's space-time U-Net
        takes any number of frames; a network with fixed frame counts does not): a one-line ValueError
        otherwise. A network without context is returned as it is."""
        if not self.context_frames:
            return self
        if self.external is None:
            raise ValueError("the core's context denoiser stacks its context as channels; it has no "
                             "unconditional form")
        plain = dataclasses.replace(self, context_frames=0, target_frames=1)
        try:
            plain.build()
        except ValueError as exc:
            raise ValueError(f"network {self.external!r} serves only as a context denoiser ({exc})") from None
        return plain

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sample_shape"] = list(self.sample_shape)
        if self.unet is not None:
            d["unet"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["unet"].items()}
        return d


NETWORK_BUILDERS: dict[str, Callable[[DenoiserNetConfig], nn.Module]] = {}
"""Builders of external networks by name (:func:`register_network`)."""


def register_network(name: str, builder: Callable[[DenoiserNetConfig], nn.Module]) -> None:
    """Let :meth:`DenoiserNetConfig.build` make networks with ``external = name``: ``builder(config)``
    returns a fresh network following the DiffusionModule contract (a context denoiser when
    ``config.context_frames`` > 0: ``net(x_target [B, C, K, H, W], c_noise [B], context [B, C, P, H, W])``;
    with ``context_frames`` 0 a denoiser of whole inputs, or a one-line ValueError when it has no such
    form), with the same parameter names in both forms.
    Registering the same builder again is a no-op; another one under a taken name is refused."""
    if NETWORK_BUILDERS.get(name, builder) is not builder:
        raise ValueError(f"network {name!r}: another builder is registered under this name")
    NETWORK_BUILDERS[name] = builder


class FrameStack(nn.Module):
    """``[B, C, T, H, W]`` → ``[B, C·T, H, W]`` → a 2-D network → back to ``[B, C, T, H, W]``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[Any] = None) -> Tensor:
        b, c, t, h, w = x.shape
        return self.net(x.reshape(b, c * t, h, w), c_noise, cond).reshape(b, c, t, h, w)


class ContextStack(nn.Module):
    """A context denoiser: ``x [B, C, K, H, W]`` (noisy target frames, preconditioned) and
    ``cond = context [B, C, P, H, W]`` (clean frames before them, data units) stacked as C·(K + P)
    channels → a 2-D network with C·K output channels → ``[B, C, K, H, W]``."""

    def __init__(self, net: nn.Module, context_frames: int):
        super().__init__()
        self.net, self.context_frames = net, context_frames

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[Any] = None) -> Tensor:
        b, c, k, h, w = x.shape
        if not isinstance(cond, Tensor) or cond.shape != (b, c, self.context_frames, h, w):
            got = tuple(cond.shape) if isinstance(cond, Tensor) else type(cond).__name__
            raise ValueError(f"context: need [{b}, {c}, {self.context_frames}, {h}, {w}], got {got}")
        stacked = torch.cat([x.reshape(b, c * k, h, w), cond.to(x.dtype).reshape(b, -1, h, w)], 1)
        return self.net(stacked, c_noise).reshape(b, c, k, h, w)


class ResidualMLP(nn.Module):
    """``[B, d]`` → Linear → ``blocks`` × (LayerNorm → SiLU → Linear + emb → SiLU → Linear, residual) →
    Linear ``[B, d]``; the last layer starts at zero."""

    def __init__(self, dim: int, hidden: int, blocks: int):
        super().__init__()
        self.fourier, self.embed = FourierEmbedding(64, 16.0), nn.Sequential(nn.Linear(64, hidden), nn.SiLU())
        self.stem = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(nn.ModuleList([nn.LayerNorm(hidden), nn.Linear(hidden, hidden),
                                                   nn.Linear(hidden, hidden)]) for _ in range(blocks))
        self.features = nn.Identity()  # the hidden state before the head (the feature-bank score reads it)
        self.head = nn.Linear(hidden, dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[Any] = None) -> Tensor:
        emb = self.embed(self.fourier(c_noise.reshape(-1).expand(len(x))).to(x.dtype))
        h = self.stem(x)
        for norm, first, second in self.blocks:
            h = h + second(nn.functional.silu(first(nn.functional.silu(norm(h))) + emb))
        return self.head(self.features(h))


def feature_layer(net: nn.Module) -> nn.Module:
    """The layer whose output the ``features`` score reads: the U-Net's bottleneck (last mid block; also
    inside :class:`FrameStack`), the residual MLP's last hidden state, or a network's own
    ``feature_layer()`` method. Anything else: a one-line ValueError."""
    if hasattr(net, "feature_layer"):
        return net.feature_layer()
    if isinstance(net, (FrameStack, ContextStack)):
        return feature_layer(net.net)
    if isinstance(net, UNet2D):
        return net.mid[-1]
    if isinstance(net, ResidualMLP):
        return net.features
    raise ValueError(f"score 'features': no known feature layer in a {type(net).__name__}")


def shallow_layer(net: nn.Module) -> Optional[nn.Module]:
    """The layer whose output the ``features`` score's per-position statistics read
    (:mod:`~sciffusion.common.anomaly.positional`): the last block of the U-Net's first encoder level
    (full resolution, base channels; also inside :class:`FrameStack` and :class:`ContextStack`), or a
    network's own ``shallow_layer()`` method; None for networks without a spatial map (the MLP)."""
    if hasattr(net, "shallow_layer"):
        return net.shallow_layer()
    if isinstance(net, (FrameStack, ContextStack)):
        return shallow_layer(net.net)
    if isinstance(net, UNet2D):
        return net.down[net.config.num_res_blocks - 1][1]
    return None


__all__ = ["ContextStack", "DenoiserNetConfig", "FrameStack", "NETWORK_BUILDERS", "ResidualMLP", "feature_layer",
           "register_network", "shallow_layer"]
