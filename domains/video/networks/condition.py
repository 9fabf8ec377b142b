"""The condition of a video denoiser: past and future frame blocks with masks, and an event label.

MCVD (Voleti et al., NeurIPS 2022) trains one network on blocks [past | current | future] where the
past and the future are each masked (zeroed) at random, so that the same model predicts (past
visible), interpolates (both visible) and generates unconditionally (both masked). The event label
(normal, collision, ...) is a class condition whose dropout trains classifier-free guidance.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import torch
from torch import Tensor


@dataclass(frozen=True)
class VideoCondition:
    """past: [B, C, T_past, H, W] clean frames in [-1, 1], or None (no past block).
    future: [B, C, T_future, H, W], or None.
    past_mask, future_mask: [B] float, 1 = the block is visible, 0 = masked (the network sees zeros
    and a "masked" role, so a masked block has no influence); None means all visible.
    event: [B] int64 event index, -1 = no label (the CFG null condition), or None.
    """

    past: Optional[Tensor] = None
    future: Optional[Tensor] = None
    past_mask: Optional[Tensor] = None
    future_mask: Optional[Tensor] = None
    event: Optional[Tensor] = None

    def __post_init__(self) -> None:
        for name in ("past", "future"):
            block = getattr(self, name)
            if block is not None and block.dim() != 5:
                raise ValueError(f"{name}: need [B, C, T, H, W], got shape {tuple(block.shape)}")
        for name in ("past_mask", "future_mask", "event"):
            value = getattr(self, name)
            if value is not None and value.dim() != 1:
                raise ValueError(f"{name}: need shape [B], got {tuple(value.shape)}")

    def mask_of(self, name: str, batch: int, like: Tensor) -> Tensor:
        """The [B] float mask of block ``name`` ("past" or "future"), ones when None."""
        mask = getattr(self, f"{name}_mask")
        if mask is None:
            return torch.ones(batch, dtype=like.dtype, device=like.device)
        return mask.to(dtype=like.dtype, device=like.device)

    def dropped(self, keep: Tensor) -> "VideoCondition":
        """Condition dropout (``DiffusionModule``): rows where ``keep`` is False lose their event label
        (-1); past and future masking is the data module's business, not guidance's."""
        if self.event is None:
            return self
        return replace(self, event=torch.where(keep.to(self.event.device), self.event, torch.full_like(self.event, -1)))

    def to(self, device: torch.device | str) -> "VideoCondition":
        return VideoCondition(*(None if v is None else v.to(device) for v in
                                (self.past, self.future, self.past_mask, self.future_mask, self.event)))

    def rows(self, index: Tensor | slice) -> "VideoCondition":
        """The condition of the batch rows ``index``."""
        return VideoCondition(*(None if v is None else v[index] for v in
                                (self.past, self.future, self.past_mask, self.future_mask, self.event)))


def random_block_masks(batch: int, p_mask_past: float, p_mask_future: float,
                       generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """MCVD training masks: past and future dropped independently, with probabilities
    ``p_mask_past`` and ``p_mask_future``. Returns (past_mask, future_mask), each [B] float in {0, 1}."""
    for name, p in (("p_mask_past", p_mask_past), ("p_mask_future", p_mask_future)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name}: must be in [0, 1], got {p}")
    u = torch.rand(2, batch, generator=generator)
    return (u[0] >= p_mask_past).float(), (u[1] >= p_mask_future).float()


__all__ = ["VideoCondition", "random_block_masks"]
