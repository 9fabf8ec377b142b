"""Radius neighbour search in pure torch (chunked ``torch.cdist``; no torch-cluster needed)."""
from __future__ import annotations

import torch
from torch import Tensor


def radius(x: Tensor, y: Tensor, cutoff: float, chunk_size: int = 4096,
           max_neighbors: int | None = None) -> Tensor:
    """All pairs (i, j) with ``|x[i] - y[j]| <= cutoff``.

    x: [N, 3], y: [M, 3], Å. Returns edge_index [2, E] int64 (row 0 indexes x, row 1 indexes y),
    sorted by i then j. ``max_neighbors`` keeps the nearest ones per x atom.
    Memory is bounded by ``chunk_size * M`` distances.
    """
    if cutoff <= 0:
        raise ValueError(f"cutoff: must be > 0 Å, got {cutoff}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: must be >= 1, got {chunk_size}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        return torch.zeros((2, 0), dtype=torch.long, device=x.device)
    rows, cols = [], []
    for start in range(0, x.shape[0], chunk_size):
        dist = torch.cdist(x[start:start + chunk_size], y)
        if max_neighbors is not None and max_neighbors < y.shape[0]:
            near = dist.topk(max_neighbors, dim=1, largest=False)
            keep = torch.zeros_like(dist, dtype=torch.bool).scatter_(1, near.indices, True)
            hit = keep & (dist <= cutoff)
        else:
            hit = dist <= cutoff
        i, j = hit.nonzero(as_tuple=True)
        rows.append(i + start)
        cols.append(j)
    return torch.stack([torch.cat(rows), torch.cat(cols)])


def radius_graph(x: Tensor, cutoff: float, loop: bool = False, chunk_size: int = 4096,
                 max_neighbors: int | None = None) -> Tensor:
    """Edges within one point set: edge_index [2, E] (source j -> target i convention ignored:
    both directions are present since the relation is symmetric). Self loops only when ``loop``."""
    k = None if max_neighbors is None else max_neighbors + (0 if loop else 1)
    edges = radius(x, x, cutoff, chunk_size=chunk_size, max_neighbors=k)
    if not loop:
        edges = edges[:, edges[0] != edges[1]]
    return edges
