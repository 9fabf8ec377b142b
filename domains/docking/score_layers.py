"""Building blocks of the docking score model: distance and noise-level embeddings, the e3nn
tensor-product convolution, mean aggregation and radius edges rebuilt from current positions.

Design after DiffDock ``models/score_model.py`` (Corso et al. 2023, ``TensorProductConvLayer``,
``GaussianSmearing``): own implementation, parity-consistent irreps, no batch norm.
"""
from __future__ import annotations

import torch
from e3nn import o3
from torch import Tensor, nn

from sciffusion.domains.docking.neighbors import radius


def scatter_mean(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Mean of ``values`` [E, F] over rows sharing ``index`` [E] -> [size, F] (zeros where none)."""
    out = values.new_zeros((size, values.shape[1])).index_add_(0, index, values)
    count = torch.bincount(index, minlength=size).clamp_min(1).to(values.dtype)
    return out / count[:, None]


def safe_unit(vec: Tensor, eps: float = 1e-9) -> Tensor:
    """vec / |vec| for [..., 3] (zero vectors stay zero; finite gradients)."""
    return vec / vec.norm(dim=-1, keepdim=True).clamp_min(eps)


def edge_sh(sh_irreps: o3.Irreps, vec: Tensor) -> Tensor:
    """Spherical harmonics (``component`` normalisation) of the unit directions of ``vec`` [E, 3] -> [E, sh_dim]."""
    return o3.spherical_harmonics(sh_irreps, safe_unit(vec), normalize=False, normalization="component")


class GaussianSmearing(nn.Module):
    """Distances [E] (Å) -> [E, n] Gaussians exp(−(d − μ_k)² / 2Δ²); μ_k evenly spaced on [start, stop],
    Δ the spacing."""

    def __init__(self, start: float, stop: float, n: int) -> None:
        super().__init__()
        self.register_buffer("offset", torch.linspace(start, stop, n))
        self.coeff = -0.5 / ((stop - start) / max(n - 1, 1)) ** 2

    def forward(self, dist: Tensor) -> Tensor:
        return torch.exp(self.coeff * (dist[:, None] - self.offset.to(dist.dtype)) ** 2)


class SigmaEmbedding(nn.Module):
    """Noise levels -> Fourier features of log σ.

    sigmas: [B, K] (K noise levels per complex, σ > 0; Å or radians). Returns [B, 2·K·n]:
    sin(f_j log σ_k), cos(f_j log σ_k) with f_j = 2^j / 4, j < n (periods from 25 down to ~3 in log σ,
    so log σ ∈ [−5, 5] is resolved without wrapping ambiguity from the lowest frequency).
    """

    def __init__(self, n_frequencies: int) -> None:
        super().__init__()
        self.register_buffer("freqs", 0.25 * 2.0 ** torch.arange(n_frequencies, dtype=torch.float32))

    def forward(self, sigmas: Tensor) -> Tensor:
        arg = sigmas.log()[..., None] * self.freqs.to(sigmas.dtype)  # [B, K, n]
        return torch.cat([arg.sin(), arg.cos()], dim=-1).flatten(1)


def radial_mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Two-layer MLP of invariant edge scalars (distances, node scalars, σ) -> tensor-product weights."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class TensorProductConv(nn.Module):
    """Equivariant convolution: target i gets mean_j TP(h_j ⊗ Y(r_ij); w(e_ij)) over its edges j -> i.

    The weights w of an ``e3nn.o3.FullyConnectedTensorProduct`` are computed per edge by a radial MLP
    of invariant edge scalars e_ij, so the layer is equivariant for any MLP.

    Shapes: source features [Ns, in_irreps.dim]; edge_index [2, E] (row 0 source j, row 1 target i);
    edge_scalars [E, n_edge]; edge_filter [E, filter_irreps.dim] (spherical harmonics of the edge
    direction or products of them); returns [num_targets, out_irreps.dim].
    """

    def __init__(self, in_irreps: o3.Irreps, filter_irreps: o3.Irreps, out_irreps: o3.Irreps,
                 n_edge: int, hidden: int) -> None:
        super().__init__()
        self.tp = o3.FullyConnectedTensorProduct(in_irreps, filter_irreps, out_irreps, shared_weights=False,
                                                 internal_weights=False)
        self.radial = radial_mlp(n_edge, hidden, self.tp.weight_numel)
        self.out_irreps = self.tp.irreps_out

    def forward(self, source: Tensor, edge_index: Tensor, edge_scalars: Tensor, edge_filter: Tensor,
                num_targets: int) -> Tensor:
        src, dst = edge_index
        messages = self.tp(source[src], edge_filter, self.radial(edge_scalars))
        return scatter_mean(messages, dst, num_targets)


def radius_edges(source_pos: Tensor, target_pos: Tensor, source_batch: Tensor, target_batch: Tensor,
                 cutoff: float | Tensor, max_neighbors: int | None, num_complexes: int,
                 loop: bool = True) -> Tensor:
    """Edges (source j, target i) with |p_j − p_i| <= cutoff within each complex, nearest
    ``max_neighbors`` per target.

    source_pos [Ns, 3], target_pos [Nt, 3], Å; *_batch [Ns], [Nt] complex ids; cutoff: Å, one float
    or [num_complexes]. ``loop=False`` drops j == i (only meaningful when source and target are the
    same node set). Returns [2, E] int64 global indices. Pure torch, one radius search per complex.
    """
    edges = []
    for b in range(num_complexes):
        src_idx = torch.nonzero(source_batch == b).flatten()
        dst_idx = torch.nonzero(target_batch == b).flatten()
        if src_idx.numel() == 0 or dst_idx.numel() == 0:
            continue
        c = float(cutoff[b]) if torch.is_tensor(cutoff) else float(cutoff)
        k = None if max_neighbors is None else max_neighbors + (0 if loop else 1)
        pairs = radius(target_pos[dst_idx].detach(), source_pos[src_idx].detach(), c, max_neighbors=k)
        pairs = torch.stack([src_idx[pairs[1]], dst_idx[pairs[0]]])
        if not loop:
            pairs = pairs[:, pairs[0] != pairs[1]]
        edges.append(pairs)
    if not edges:
        return torch.zeros((2, 0), dtype=torch.long, device=source_pos.device)
    return torch.cat(edges, dim=1)


def hidden_irreps(scalars: int, vectors: int, lmax: int) -> o3.Irreps:
    """Node feature irreps: ``scalars``x0e + ``vectors``x(1o + 1e) [+ ``vectors``x(2e + 2o) if lmax = 2]."""
    parts = [f"{scalars}x0e", f"{vectors}x1o", f"{vectors}x1e"]
    if lmax >= 2:
        parts += [f"{vectors}x2e", f"{vectors}x2o"]
    return o3.Irreps(" + ".join(parts))
