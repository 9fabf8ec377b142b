"""Ragged parts of a batch: a different number of rows per sample, stored flat with a sample index.

A :class:`Ragged` holds ``values [M, ...]`` (the rows of all samples, concatenated), ``index [M]``
(int64, the sample each row belongs to, in [0, B)) and ``num_samples`` B. A sample may own no rows
(m_b = 0); rows need not be sorted by sample. There is no padding, so nothing is ever noised, scored
or averaged that is not a real row. For example, torsion angles of B samples with m = (0, 1, 3)::

    Ragged(values=[θ₁₀, θ₂₀, θ₂₁, θ₂₂] (radians, [4]), index=[1, 2, 2, 2], num_samples=3)

Per-sample quantities ``q [B, ...]`` reach the rows as ``q[index]`` (:meth:`Ragged.rows`); per-row
quantities are reduced per sample by :meth:`Ragged.sum_per_sample` / :meth:`Ragged.mean_per_sample`.
A :class:`RaggedShape` (counts per sample and the event shape of one row) is what a prior needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor


@dataclass(frozen=True)
class RaggedShape:
    """Layout of a ragged part without values: ``counts`` (rows per sample, length B) and the
    ``event_shape`` of one row (``()`` for scalars such as angles, ``(3,)`` for points)."""

    counts: tuple[int, ...]
    event_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", tuple(int(c) for c in self.counts))
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))
        if any(c < 0 for c in self.counts):
            raise ValueError(f"counts: must all be >= 0, got {self.counts}")
        if any(d < 1 for d in self.event_shape):
            raise ValueError(f"event_shape: dimensions must be >= 1, got {self.event_shape}")

    @property
    def num_samples(self) -> int:
        return len(self.counts)

    @property
    def num_rows(self) -> int:
        return sum(self.counts)

    def index(self, device: torch.device | str | None = None) -> Tensor:
        """Sample id of each row, [M] int64, rows grouped by sample in order."""
        counts = torch.tensor(self.counts, dtype=torch.long)
        return torch.repeat_interleave(torch.arange(len(self.counts)), counts).to(device)


@dataclass(frozen=True)
class Ragged:
    """Rows of varying number per sample: ``values [M, ...]``, ``index [M]`` (int64 sample ids in
    [0, num_samples)), ``num_samples`` B (module docstring). Has ``.to`` so Lightning moves it."""

    values: Tensor
    index: Tensor
    num_samples: int

    def __post_init__(self) -> None:
        if not isinstance(self.values, Tensor) or self.values.dim() < 1:
            raise ValueError("ragged values: need a tensor with a leading row axis [M, ...]")
        if not isinstance(self.index, Tensor) or self.index.dim() != 1 or self.index.dtype != torch.long:
            raise ValueError("ragged index: need a 1-D int64 tensor of sample ids")
        if len(self.index) != len(self.values):
            raise ValueError(f"ragged index: {len(self.index)} ids for {len(self.values)} rows")
        if self.num_samples < 0:
            raise ValueError(f"ragged num_samples: must be >= 0, got {self.num_samples}")
        if len(self.index) and (int(self.index.min()) < 0 or int(self.index.max()) >= self.num_samples):
            raise ValueError(f"ragged index: sample ids must lie in [0, {self.num_samples})")

    @classmethod
    def from_counts(cls, values: Tensor, counts: Sequence[int] | Tensor) -> "Ragged":
        """Rows grouped by sample in order: the first ``counts[0]`` rows belong to sample 0, etc."""
        shape = RaggedShape(tuple(int(c) for c in counts))
        if shape.num_rows != len(values):
            raise ValueError(f"counts: sum {shape.num_rows} != {len(values)} rows")
        return cls(values, shape.index(values.device), shape.num_samples)

    @classmethod
    def concat(cls, parts: Sequence["Ragged"]) -> "Ragged":
        """One batch from several: rows concatenated, sample ids shifted by the samples before."""
        if not parts:
            raise ValueError("ragged concat: need at least one part")
        offsets = [0]
        for p in parts:
            offsets.append(offsets[-1] + p.num_samples)
        index = torch.cat([p.index + off for p, off in zip(parts, offsets)])
        return cls(torch.cat([p.values for p in parts]), index, offsets[-1])

    @property
    def shape(self) -> RaggedShape:
        """The layout: rows per sample and the event shape (syncs on an accelerator)."""
        return RaggedShape(tuple(self.counts().tolist()), tuple(self.values.shape[1:]))

    def counts(self) -> Tensor:
        """Rows per sample, [B] int64."""
        return torch.bincount(self.index, minlength=self.num_samples)

    def with_values(self, values: Tensor) -> "Ragged":
        """Same layout, new rows (e.g. after a sampler step)."""
        if values.shape[:1] != self.values.shape[:1]:
            raise ValueError(f"ragged values: need {len(self.values)} rows, got shape {tuple(values.shape)}")
        return Ragged(values, self.index, self.num_samples)

    def rows(self, per_sample: Tensor) -> Tensor:
        """Per-sample ``[B, ...]`` → per-row ``[M, ...]``."""
        return per_sample[self.index]

    def sum_per_sample(self, per_row: Tensor) -> Tensor:
        """Per-row ``[M, ...]`` → per-sample sums ``[B, ...]`` (0 for samples without rows)."""
        out = per_row.new_zeros((self.num_samples, *per_row.shape[1:]))
        return out.index_add(0, self.index, per_row)

    def mean_per_sample(self, per_row: Tensor) -> Tensor:
        """Per-row ``[M, ...]`` → per-sample means ``[B, ...]`` (0 for samples without rows)."""
        counts = self.counts().clamp_min(1).to(per_row.dtype)
        return self.sum_per_sample(per_row) / counts.reshape((-1,) + (1,) * (per_row.dim() - 1))

    def split(self) -> list[Tensor]:
        """The rows of each sample, in row order: a list of B tensors ``[m_b, ...]``."""
        return [self.values[self.index == b] for b in range(self.num_samples)]

    def to(self, *args: Any, **kwargs: Any) -> "Ragged":
        """``values.to(*args, **kwargs)``; the index follows to the same device only."""
        values = self.values.to(*args, **kwargs)
        return Ragged(values, self.index.to(values.device), self.num_samples)


__all__ = ["Ragged", "RaggedShape"]
