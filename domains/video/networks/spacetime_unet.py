"""A factorized space-time U-Net for video denoisers (in the spirit of Ho et al. 2022, "Video
Diffusion Models", and MCVD's conditioning on past and future blocks).

The clip sequence is [past | current | future] along time, L = T_past + T + T_future frames. Every
level applies, frame by frame, the core's 2-D :class:`~sciffusion.common.networks.ResBlock` (and
spatial self-attention where enabled), then a temporal convolution and, where enabled, temporal
attention — the only layers that mix frames. Each frame's embedding is the noise embedding of its
clip (Fourier features of c_noise), plus the clip's event label, plus a *role* embedding: current,
past visible, past masked, future visible, future masked. Masked blocks are zeroed before the
network sees them, so they have no influence. The output is read at the current frames only.

``past_channels`` k > 0 adds MCVD's direct path (its "concat" conditioning) inside the factorized
network: the last k frames of the (masked) past block are also stacked as extra input channels of every
frame, so each frame's first 2-D convolution sees the recent past at every pixel, rather than only
through the temporal layers. The stacked frames are the same for every frame of the sequence, so the
temporal layers are still the only ones that couple the frames being denoised.

Call: ``net(x_in [B, C, T, H, W], c_noise [B], cond: VideoCondition | None) -> [B, C, T, H, W]``;
T, T_past and T_future may change from call to call. H and W must be divisible by
patch_size · 2^(levels − 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from sciffusion.common.networks.blocks import FourierEmbedding, LabelEmbedding, ResBlock, SelfAttention
from sciffusion.domains.video.networks.condition import VideoCondition
from sciffusion.domains.video.networks.temporal import TemporalAttention, TemporalConv

ROLES = ("current", "past", "past_masked", "future", "future_masked")


@dataclass(frozen=True)
class SpaceTimeUNetConfig:
    """channels: C of the frames (1 grey, 3 RGB). Channels per level = ``base_channels ×
    channel_mults[i]``, ``num_res_blocks`` per level; ``spatial_attention`` / ``temporal_attention``
    one flag per level; ``temporal=False`` removes every temporal layer (frames are then denoised
    independently: an ablation, and what the tests compare against). ``heads``: temporal attention
    heads. ``num_events``: event classes (0: no event input). ``checkpointing``: gradient checkpointing
    of every block in training (less memory, about a third more compute). ``patch_size`` p > 1 folds
    p × p pixel patches into channels before the U-Net and unfolds them after (pixel (un)shuffle): p²
    less compute at full resolution, for CPU budgets."""

    channels: int = 1
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    spatial_attention: tuple[bool, ...] = (False, False, False)
    temporal_attention: tuple[bool, ...] = (False, True, True)
    temporal: bool = True
    heads: int = 4
    groups: int = 8
    embed_dim: int = 128
    fourier_scale: float = 16.0
    dropout: float = 0.0
    num_events: int = 0
    checkpointing: bool = False
    patch_size: int = 1
    past_channels: int = 0

    def __post_init__(self) -> None:
        if self.past_channels < 0:
            raise ValueError(f"past_channels: must be >= 0, got {self.past_channels}")
        if self.patch_size < 1:
            raise ValueError(f"patch_size: must be >= 1, got {self.patch_size}")
        if self.channels < 1 or self.base_channels < 1:
            raise ValueError(f"channels: channels and base_channels must be >= 1, got ({self.channels}, {self.base_channels})")
        if not self.channel_mults or any(m < 1 for m in self.channel_mults):
            raise ValueError(f"channel_mults: need positive entries, got {self.channel_mults}")
        for name in ("spatial_attention", "temporal_attention"):
            if len(getattr(self, name)) != len(self.channel_mults):
                raise ValueError(f"{name}: need one flag per level ({len(self.channel_mults)}), got {len(getattr(self, name))}")
        if self.num_res_blocks < 1:
            raise ValueError(f"num_res_blocks: must be >= 1, got {self.num_res_blocks}")
        if any((self.base_channels * m) % self.groups for m in self.channel_mults):
            raise ValueError(f"groups: {self.groups} must divide every level's channel count")
        if any((self.base_channels * m) % self.heads for m in self.channel_mults):
            raise ValueError(f"heads: {self.heads} must divide every level's channel count")
        if self.embed_dim < 2 or self.embed_dim % 2:
            raise ValueError(f"embed_dim: must be even and >= 2, got {self.embed_dim}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.num_events < 0:
            raise ValueError(f"num_events: must be >= 0, got {self.num_events}")


class SpaceTimeBlock(nn.Module):
    """ResBlock (per frame) → spatial attention (optional, per frame) → temporal conv → temporal
    attention (optional). h: [B·L, C_in, H, W], emb: [B·L, E] → [B·L, C_out, H, W]."""

    def __init__(self, c_in: int, c_out: int, cfg: SpaceTimeUNetConfig, spatial_attn: bool, temporal_attn: bool):
        super().__init__()
        self.res = ResBlock(c_in, c_out, cfg.embed_dim, cfg.groups, cfg.dropout)
        self.spatial = SelfAttention(c_out, cfg.groups) if spatial_attn else None
        self.tconv = TemporalConv(c_out, cfg.groups) if cfg.temporal else None
        self.tattn = TemporalAttention(c_out, cfg.groups, cfg.heads) if cfg.temporal and temporal_attn else None

    def forward(self, h: Tensor, emb: Tensor, frames: int) -> Tensor:
        h = self.res(h, emb)
        if self.spatial is not None:
            h = self.spatial(h)
        if self.tconv is not None:
            h = self.tconv(h, frames)
        if self.tattn is not None:
            h = self.tattn(h, frames)
        return h


class SpaceTimeUNet(nn.Module):
    """The network of the module docstring. Skip connections concatenate encoder features."""

    def __init__(self, config: SpaceTimeUNetConfig = SpaceTimeUNetConfig()):
        super().__init__()
        self.config = c = config
        e = c.embed_dim
        self.fourier = FourierEmbedding(e, c.fourier_scale)
        self.embed = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        self.role = nn.Embedding(len(ROLES), e)
        self.event = LabelEmbedding(c.num_events, e) if c.num_events else None
        chans = [c.base_channels * m for m in c.channel_mults]
        self.stem = nn.Conv2d(c.channels * (1 + c.past_channels) * c.patch_size ** 2, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch = [chans[0]], chans[0]
        for level, co in enumerate(chans):
            for _ in range(c.num_res_blocks):
                self.down.append(SpaceTimeBlock(ch, co, c, c.spatial_attention[level], c.temporal_attention[level]))
                ch = co
                skips.append(ch)
            if level < len(chans) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = SpaceTimeBlock(ch, ch, c, True, True)
        self.up = nn.ModuleList()
        for level in reversed(range(len(chans))):
            co = chans[level]
            for _ in range(c.num_res_blocks + 1):
                self.up.append(SpaceTimeBlock(ch + skips.pop(), co, c, c.spatial_attention[level],
                                              c.temporal_attention[level]))
                ch = co
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)))
        self.head = nn.Sequential(nn.GroupNorm(c.groups, ch), nn.SiLU(), nn.Conv2d(ch, c.channels * c.patch_size ** 2, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def sequence(self, x: Tensor, cond: Optional[VideoCondition]) -> tuple[Tensor, Tensor, int]:
        """[past·mask | x | future·mask] along time, [B, C, L, H, W]; the role index of every frame,
        [B, L]; and T_past (the offset of the current block)."""
        b, t = x.shape[0], x.shape[2]
        blocks: dict[str, list[Tensor]] = {"past": [], "future": []}
        roles: dict[str, list[Tensor]] = {"past": [], "future": []}
        for name, visible_role in (("past", 1), ("future", 3)):
            block = None if cond is None else getattr(cond, name)
            if block is None:
                continue
            if block.shape[0] != b or block.shape[1] != x.shape[1] or block.shape[3:] != x.shape[3:]:
                raise ValueError(f"cond.{name}: shape {tuple(block.shape)} does not fit x {tuple(x.shape)}")
            mask = cond.mask_of(name, b, x)
            blocks[name].append(block.to(x.dtype) * mask[:, None, None, None, None])
            role = torch.where(mask > 0, visible_role, visible_role + 1).long()
            roles[name].append(role[:, None].expand(b, block.shape[2]))
        current = torch.zeros(b, t, dtype=torch.long, device=x.device)
        seq = torch.cat(blocks["past"] + [x] + blocks["future"], dim=2)
        role = torch.cat(roles["past"] + [current] + roles["future"], dim=1)
        t_past = blocks["past"][0].shape[2] if blocks["past"] else 0
        return seq, role, t_past

    def stacked_past(self, x: Tensor, cond: Optional[VideoCondition]) -> Tensor:
        """The last ``past_channels`` k frames of the masked past block as channels, [B, C·k, H, W]
        (frame order oldest → newest; zeros for a masked, absent or too short past)."""
        b, c, _, height, width = x.shape
        k = self.config.past_channels
        out = x.new_zeros(b, c, k, height, width)
        past = None if cond is None else cond.past
        if past is not None and k:
            mask = cond.mask_of("past", b, x)
            recent = past[:, :, -k:].to(x.dtype) * mask[:, None, None, None, None]
            out[:, :, k - recent.shape[2]:] = recent
        return out.reshape(b, c * k, height, width)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Optional[VideoCondition] = None) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.config.channels:
            raise ValueError(f"x: expected [B, {self.config.channels}, T, H, W], got {tuple(x.shape)}")
        b, c, t, height, width = x.shape
        seq, role, t_past = self.sequence(x, cond)
        frames = seq.shape[2]
        emb = self.embed(self.fourier(c_noise.reshape(-1).expand(b)).to(x.dtype))  # [B, E]
        if self.event is not None and cond is not None and cond.event is not None:
            emb = emb + self.event(cond.event.to(x.device))
        emb = (emb[:, None] + self.role(role)).reshape(b * frames, -1)  # [B·L, E]
        p = self.config.patch_size
        factor = p * 2 ** (len(self.config.channel_mults) - 1)
        if height % factor or width % factor:
            raise ValueError(f"x: frames {height}x{width} are not divisible by patch_size * 2^(levels - 1) = {factor}")
        h = seq.transpose(1, 2).reshape(b * frames, c, height, width)
        if self.config.past_channels:
            stacked = self.stacked_past(x, cond)
            h = torch.cat([h, stacked.repeat_interleave(frames, dim=0)], dim=1)
        h = self.stem(F.pixel_unshuffle(h, p))
        hs = [h]
        for block in self.down:
            h = self._run(block, h, emb, frames)
            hs.append(h)
        h = self._run(self.mid, h, emb, frames)
        for block in self.up:
            h = self._run(block, torch.cat([h, hs.pop()], dim=1) if isinstance(block, SpaceTimeBlock) else h, emb, frames)
        out = F.pixel_shuffle(self.head(h), p).reshape(b, frames, c, height, width).transpose(1, 2)
        return out[:, :, t_past:t_past + t]

    def _run(self, block: nn.Module, h: Tensor, emb: Tensor, frames: int) -> Tensor:
        if not isinstance(block, SpaceTimeBlock):
            return block(h)
        if self.config.checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, h, emb, frames, use_reentrant=False)
        return block(h, emb, frames)


__all__ = ["ROLES", "SpaceTimeBlock", "SpaceTimeUNet", "SpaceTimeUNetConfig"]
