"""DiffDock-style score model: an e3nn tensor-product network over the protein–ligand complex graph.

Given a batch of complexes with the current (noised) ligand poses and the noise levels
σ_tr (Å), σ_rot, σ_tor (radians), it predicts per complex

* a translation score [B, 3] (Å⁻¹; a vector, irrep 1o),
* a rotation score [B, 3] (radians⁻¹; a left / space-frame rotation vector about the ligand centroid,
  :mod:`sciffusion.common.manifolds.so3`; an axial vector, irrep 1e),
* one torsion score per rotatable bond, flat [M] over the batch (radians⁻¹; a pseudoscalar: invariant
  under rotations, sign flipped under reflections).

Architecture after DiffDock ``models/score_model.py`` (Corso et al., ICLR 2023), own code, small:

1. node scalars: sums of categorical embeddings (ligand atom codes, residue types, receptor
   elements) plus a linear map of Fourier features of (log σ_tr, log σ_rot, log σ_tor) of the node's
   complex; residues also carry their N−Cα, C−Cα, Cβ−Cα vectors (3x1o).
2. ``num_layers`` interaction layers of :class:`~.score_layers.TensorProductConv` over
   ligand←ligand (bonds + radius), ligand←receptor, receptor←receptor and receptor←ligand edges
   (+ the receptor-atom relations when ``use_atoms``), all radius edges rebuilt from the current
   positions; edge filters are spherical harmonics of the edge direction, tensor-product weights are
   radial MLPs of Gaussian-smeared distances and the two end nodes' scalars; residual updates.
3. translation/rotation: a "center" convolution from every ligand atom to its complex's centroid to
   1o + 1e, whose norms are rescaled by an MLP of (norm, σ features).
4. torsion: a "bond" convolution centred at each rotatable bond's midpoint over the ligand atoms
   within ``ligand_cutoff``, with filter Y(r) ⊗ Y²(bond axis); Y² is even in the axis and the bond's
   scalars are h_u + h_v, so the score does not depend on the bond's direction: reversing (u, v)
   gives the identical score (the right convention: turning v's side by +δ about u→v changes the
   dihedral as turning u's side by +δ about v→u does). Output: pseudoscalars gated by even scalars.

With ``scale_by_sigma`` the outputs are multiplied by the expected score norms (1/σ_tr, the IGSO(3)
and wrapped-normal score norms of the core), so the network itself predicts O(1) values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from e3nn import o3
from torch import Tensor, nn

from sciffusion.common.manifolds import igso3, torus
from sciffusion.domains.docking.features import (
    BOND_TYPES, LIGAND_ATOM_CARDINALITY, NUM_RESIDUE_TYPES, RECEPTOR_ELEMENTS,
)
from sciffusion.domains.docking.score_inputs import ComplexInputs
from sciffusion.domains.docking.score_layers import (
    GaussianSmearing, SigmaEmbedding, TensorProductConv, edge_sh, hidden_irreps, radial_mlp, radius_edges,
    safe_unit, scatter_mean,
)

# relation name -> (source node type, target node type); messages flow source -> target
RELATIONS = {"lig_lig": ("lig", "lig"), "rec_lig": ("rec", "lig"), "rec_rec": ("rec", "rec"),
             "lig_rec": ("lig", "rec")}
ATOM_RELATIONS = {"atom_atom": ("atom", "atom"), "atom_lig": ("atom", "lig"), "lig_atom": ("lig", "atom"),
                  "atom_rec": ("atom", "rec"), "rec_atom": ("rec", "atom")}
TORSION_RMS_EPS = 1e-4
"""Floor of the channel rms in the torsion head's normalisation (a bond whose pseudoscalars all vanish,
e.g. in a mirror-symmetric environment, keeps a zero score)."""
SIDE_CHAIN_SCALE = 1.5
"""Å; side-chain vectors (~1.5 Å long) are divided by this before entering the network."""


@dataclass(frozen=True)
class ScoreModelConfig:
    """Size and geometry of :class:`DockingScoreModel`. Distances in Å.

    scalar_channels / vector_channels: multiplicities of 0e and of each of 1o, 1e (and 2e, 2o when
    lmax = 2) node features. num_layers: interaction layers (>= 2: a parity-odd torsion score needs
    axial node features, which appear in the second layer). lmax: spherical-harmonics degree of edge
    filters and node features (1 or 2). sigma_frequencies: Fourier frequencies per noise level.
    distance_embed_dim: Gaussians per distance. ligand_cutoff: ligand-ligand and bond-centre edges.
    receptor_cutoff: Cα-Cα. cross_cutoff + cross_cutoff_per_sigma·σ_tr: ligand-residue edges (grows
    with the translation noise so a far-off ligand still sees the protein). cross_distance_max: range
    of the cross-edge Gaussians. center_distance_max: range of the atom-to-centroid Gaussians.
    atom_cutoff: receptor-atom edges (used when use_atoms). max_neighbors: nearest kept per target node.
    scale_by_sigma: multiply outputs by the expected score norms at σ. normalize_torsion: divide each
    bond's pseudoscalar channels by their root mean square over channels (an invariant) before the
    gate, so the torsion head starts at O(1) outputs; without it the bond convolution's outputs are
    ~0.01 at initialisation and the torsion score barely moves in an hour of CPU training (measured:
    raw torsion output std 0.01-0.2 against targets of std 1 after 3,000 steps). False keeps the
    behaviour of models trained before the option existed.
    """

    scalar_channels: int = 16
    vector_channels: int = 4
    num_layers: int = 2
    lmax: int = 1
    sigma_frequencies: int = 4
    distance_embed_dim: int = 16
    ligand_cutoff: float = 5.0
    receptor_cutoff: float = 15.0
    cross_cutoff: float = 20.0
    cross_cutoff_per_sigma: float = 3.0
    cross_distance_max: float = 80.0
    center_distance_max: float = 30.0
    atom_cutoff: float = 5.0
    max_neighbors: Optional[int] = 24
    use_atoms: bool = False
    scale_by_sigma: bool = True
    normalize_torsion: bool = False

    def __post_init__(self) -> None:
        for name in ("scalar_channels", "vector_channels", "sigma_frequencies", "distance_embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.num_layers < 2:
            raise ValueError(f"num_layers: must be >= 2 (torsion scores need axial features), got {self.num_layers}")
        if self.lmax not in (1, 2):
            raise ValueError(f"lmax: must be 1 or 2, got {self.lmax}")
        for name in ("ligand_cutoff", "receptor_cutoff", "cross_cutoff", "cross_distance_max",
                     "center_distance_max", "atom_cutoff"):
            value = getattr(self, name)
            if not (value > 0 and value < float("inf")):
                raise ValueError(f"{name}: must be a finite number > 0 Å, got {value}")
        if not 0 <= self.cross_cutoff_per_sigma < float("inf"):
            raise ValueError(f"cross_cutoff_per_sigma: must be finite and >= 0, got {self.cross_cutoff_per_sigma}")
        if self.max_neighbors is not None and self.max_neighbors < 1:
            raise ValueError(f"max_neighbors: must be >= 1 or None, got {self.max_neighbors}")


@dataclass(frozen=True)
class PoseScores:
    """translation [B, 3] Å⁻¹ (1o); rotation [B, 3] radians⁻¹ (1e, left rotation vector about the
    centroid); torsion [M] radians⁻¹ (one per rotatable bond, in ``ComplexInputs.rot_edges`` order)."""

    translation: Tensor
    rotation: Tensor
    torsion: Tensor


class DockingScoreModel(nn.Module):
    """Scores of translation, rotation and torsions for a batch of complexes (module docstring)."""

    def __init__(self, config: ScoreModelConfig = ScoreModelConfig()) -> None:
        super().__init__()
        self.config = c = config
        ns, d = c.scalar_channels, c.distance_embed_dim
        self.hidden = hidden_irreps(ns, c.vector_channels, c.lmax)
        self.sh_irreps = o3.Irreps.spherical_harmonics(c.lmax)
        self.sigma_embedding = SigmaEmbedding(c.sigma_frequencies)
        n_sigma = 6 * c.sigma_frequencies
        self.ligand_embedding = nn.ModuleList(nn.Embedding(card, ns) for card in LIGAND_ATOM_CARDINALITY)
        self.residue_embedding = nn.Embedding(NUM_RESIDUE_TYPES, ns)
        self.bond_embedding = nn.Embedding(len(BOND_TYPES) + 2, ns)  # 0: radius edge, code + 1: bond
        node_types = ("lig", "rec", "atom") if c.use_atoms else ("lig", "rec")
        self.node_sigma = nn.ModuleDict({t: nn.Linear(n_sigma, ns) for t in node_types})
        self.residue_input = o3.Linear(o3.Irreps(f"{ns}x0e + 3x1o"), self.hidden)
        rbf = {"lig": (c.ligand_cutoff, "lig_lig"), "rec": (c.receptor_cutoff, "rec_rec"),
               "cross": (c.cross_distance_max, "rec_lig lig_rec"), "atom": (c.atom_cutoff, "atom_atom atom_lig "
                                                                   "lig_atom atom_rec rec_atom"),
               "center": (c.center_distance_max, "")}
        self.rbf = nn.ModuleDict({k: GaussianSmearing(0.0, stop, d) for k, (stop, _) in rbf.items()})
        self.rbf_of = {rel: k for k, (_, rels) in rbf.items() for rel in rels.split()}
        relations = dict(RELATIONS, **(ATOM_RELATIONS if c.use_atoms else {}))
        if c.use_atoms:
            self.atom_embedding = nn.Embedding(len(RECEPTOR_ELEMENTS) + 1, ns)
        self.relations = relations
        self.layers = nn.ModuleList()
        for layer in range(c.num_layers):
            last = layer == c.num_layers - 1
            self.layers.append(nn.ModuleDict({
                rel: TensorProductConv(self.hidden, self.sh_irreps, self.hidden,
                                       d + (3 if rel == "lig_lig" else 2) * ns, 3 * ns)
                for rel, (_, dst) in relations.items() if not last or dst == "lig"}))
        self.center_conv = TensorProductConv(self.hidden, self.sh_irreps, o3.Irreps("1x1o + 1x1e"),
                                             d + ns + n_sigma, 2 * ns)
        self.translation_norm = radial_mlp(1 + n_sigma, ns, 1)
        self.rotation_norm = radial_mlp(1 + n_sigma, ns, 1)
        self.bond_filter = o3.FullTensorProduct(self.sh_irreps, o3.Irreps("2e"))
        self.bond_conv = TensorProductConv(self.hidden, self.bond_filter.irreps_out, o3.Irreps(f"{ns}x0o + {ns}x0e"),
                                           d + 2 * ns, 2 * ns)
        self.torsion_gate = radial_mlp(ns + n_sigma, ns, ns)

    def forward(self, inputs: ComplexInputs, sigma_tr: Tensor | float, sigma_rot: Tensor | float,
                sigma_tor: Tensor | float) -> PoseScores:
        """inputs: B complexes; sigma_*: [B] (or one float for all), σ_tr in Å, σ_rot and σ_tor in radians."""
        c, ns = self.config, self.config.scalar_channels
        if c.use_atoms and not inputs.has_atoms:
            raise ValueError("inputs: no receptor atoms, but the model was configured with use_atoms=True")
        sigmas = _sigmas(inputs, sigma_tr, sigma_rot, sigma_tor)  # [B, 3]
        sig = self.sigma_embedding(sigmas)
        pos = {"lig": inputs.ligand_pos, "rec": inputs.receptor_pos}
        batch = {"lig": inputs.ligand_batch, "rec": inputs.receptor_batch}
        h = {"lig": self._pad(self._ligand_scalars(inputs) + self.node_sigma["lig"](sig)[batch["lig"]]),
             "rec": self._residues(inputs, sig)}
        if c.use_atoms:
            pos["atom"], batch["atom"] = inputs.atom_pos, inputs.atom_batch
            h["atom"] = self._pad(self.atom_embedding(inputs.atom_x) + self.node_sigma["atom"](sig)[batch["atom"]])
        edges = self._edges(inputs, pos, batch, sigmas[:, 0])
        geometry = {}
        for rel, e in edges.items():
            src_t, dst_t = self.relations[rel]
            vec = pos[src_t][e[0]] - pos[dst_t][e[1]]
            geometry[rel] = (self.rbf[self.rbf_of[rel]](vec.norm(dim=-1)), edge_sh(self.sh_irreps, vec))
        bond_codes = self._ligand_edge_codes(inputs, edges["lig_lig"].shape[1])
        for convs in self.layers:
            updates = {}
            for rel, conv in convs.items():
                (src_t, dst_t), e = self.relations[rel], edges[rel]
                scalars = [geometry[rel][0], h[src_t][e[0], :ns], h[dst_t][e[1], :ns]]
                if rel == "lig_lig":
                    scalars.append(self.bond_embedding(bond_codes))
                msg = conv(h[src_t], e, torch.cat(scalars, -1), geometry[rel][1], h[dst_t].shape[0])
                updates[dst_t] = msg if dst_t not in updates else updates[dst_t] + msg
            h = {t: h[t] + updates[t] if t in updates else h[t] for t in h}
        translation, rotation = self._rigid_scores(inputs, h["lig"], sig)
        torsion = self._torsion_scores(inputs, h["lig"], sig)
        if c.scale_by_sigma:
            translation = translation / sigmas[:, :1]
            rotation = rotation * igso3.score_norm(sigmas[:, 1]).to(rotation)[:, None]
            torsion = torsion * torus.score_norm(sigmas[inputs.rot_batch, 2]).to(torsion)
        return PoseScores(translation=translation, rotation=rotation, torsion=torsion)

    def _pad(self, scalars: Tensor) -> Tensor:
        """Scalars [n, ns] -> hidden features [n, hidden.dim] with zero vectors."""
        return nn.functional.pad(scalars, (0, self.hidden.dim - scalars.shape[1]))

    def _ligand_scalars(self, inputs: ComplexInputs) -> Tensor:
        return sum(emb(inputs.ligand_x[:, k]) for k, emb in enumerate(self.ligand_embedding))

    def _residues(self, inputs: ComplexInputs, sig: Tensor) -> Tensor:
        scalars = self.residue_embedding(inputs.receptor_x) + self.node_sigma["rec"](sig)[inputs.receptor_batch]
        vecs = inputs.side_chain_vecs.reshape(-1, 9).to(scalars.dtype) / SIDE_CHAIN_SCALE
        return self.residue_input(torch.cat([scalars, vecs], dim=-1))

    def _edges(self, inputs: ComplexInputs, pos: dict, batch: dict, sigma_tr: Tensor) -> dict[str, Tensor]:
        """Edge indices (source, target) per relation, from the current positions."""
        c, b = self.config, inputs.num_complexes
        k = c.max_neighbors
        lig_radius = radius_edges(pos["lig"], pos["lig"], batch["lig"], batch["lig"], c.ligand_cutoff, k, b, loop=False)
        cross = radius_edges(pos["rec"], pos["lig"], batch["rec"], batch["lig"],
                             c.cross_cutoff + c.cross_cutoff_per_sigma * sigma_tr, k, b)
        edges = {"lig_lig": torch.cat([inputs.bond_index, lig_radius], dim=1),
                 "rec_rec": radius_edges(pos["rec"], pos["rec"], batch["rec"], batch["rec"], c.receptor_cutoff, k, b,
                                         loop=False),
                 "rec_lig": cross, "lig_rec": cross.flip(0)}
        if c.use_atoms:
            lig_atom = radius_edges(pos["lig"], pos["atom"], batch["lig"], batch["atom"], c.atom_cutoff, k, b)
            edges.update({"atom_atom": radius_edges(pos["atom"], pos["atom"], batch["atom"], batch["atom"],
                                                    c.atom_cutoff, k, b, loop=False),
                          "lig_atom": lig_atom, "atom_lig": lig_atom.flip(0),
                          "atom_rec": inputs.atom_residue, "rec_atom": inputs.atom_residue.flip(0)})
        return edges

    @staticmethod
    def _ligand_edge_codes(inputs: ComplexInputs, n_edges: int) -> Tensor:
        """Bond codes + 1 for the bond edges, 0 for the radius edges appended after them."""
        n_bonds = inputs.bond_type.shape[0]
        codes = torch.zeros(n_edges, dtype=torch.long, device=inputs.bond_type.device)
        codes[:n_bonds] = inputs.bond_type + 1
        return codes

    def _rigid_scores(self, inputs: ComplexInputs, h_lig: Tensor, sig: Tensor) -> tuple[Tensor, Tensor]:
        """Center convolution: ligand atoms -> their complex's centroid; [B, 3] translation and rotation."""
        b, ns = inputs.num_complexes, self.config.scalar_channels
        lig_batch = inputs.ligand_batch
        centroid = scatter_mean(inputs.ligand_pos, lig_batch, b)
        vec = inputs.ligand_pos - centroid[lig_batch]
        e = torch.stack([torch.arange(vec.shape[0], device=vec.device), lig_batch])
        scalars = torch.cat([self.rbf["center"](vec.norm(dim=-1)), h_lig[:, :ns], sig[lig_batch]], -1)
        out = self.center_conv(h_lig, e, scalars, edge_sh(self.sh_irreps, vec), b)
        return _rescale(out[:, :3], self.translation_norm, sig), _rescale(out[:, 3:], self.rotation_norm, sig)

    def _torsion_scores(self, inputs: ComplexInputs, h_lig: Tensor, sig: Tensor) -> Tensor:
        """Bond convolution at each rotatable bond's midpoint; [M] pseudoscalars, symmetric in (u, v)."""
        ns, pos = self.config.scalar_channels, inputs.ligand_pos
        u, v = inputs.rot_edges[:, 0], inputs.rot_edges[:, 1]
        if u.numel() == 0:
            return pos.new_zeros(0)
        mid, bond_batch = (pos[u] + pos[v]) / 2, inputs.rot_batch
        axis_sh = o3.spherical_harmonics(o3.Irreps("2e"), safe_unit(pos[v] - pos[u]), normalize=False,
                                         normalization="component")
        e = radius_edges(pos, mid, inputs.ligand_batch, bond_batch, self.config.ligand_cutoff, None,
                         inputs.num_complexes)
        vec = pos[e[0]] - mid[e[1]]
        bond_scalars = h_lig[u, :ns] + h_lig[v, :ns]
        scalars = torch.cat([self.rbf["lig"](vec.norm(dim=-1)), h_lig[e[0], :ns], bond_scalars[e[1]]], -1)
        filt = self.bond_filter(edge_sh(self.sh_irreps, vec), axis_sh[e[1]])
        z = self.bond_conv(h_lig, e, scalars, filt, u.shape[0])
        odd, even = z[:, :ns], z[:, ns:]
        if self.config.normalize_torsion:  # rms over channels is parity-even: odd / rms stays a pseudoscalar
            odd = odd / (odd.pow(2).mean(-1, keepdim=True) + TORSION_RMS_EPS**2).sqrt()
        return (odd * self.torsion_gate(torch.cat([even, sig[bond_batch]], -1))).sum(-1)


def _rescale(vec: Tensor, norm_mlp: nn.Module, sig: Tensor) -> Tensor:
    """vec [B, 3] -> unit(vec) · MLP(|vec|, σ features): direction from the network, length learned per σ."""
    n = vec.norm(dim=-1, keepdim=True)
    return safe_unit(vec) * norm_mlp(torch.cat([n, sig], -1))


def _sigmas(inputs: ComplexInputs, *sigmas: Tensor | float) -> Tensor:
    """[B, 3] (σ_tr, σ_rot, σ_tor) in the ligand positions' dtype; each must be > 0 and finite."""
    b, dtype = inputs.num_complexes, inputs.ligand_pos.dtype
    cols = []
    for name, s in zip(("sigma_tr", "sigma_rot", "sigma_tor"), sigmas):
        s = torch.as_tensor(s, dtype=dtype, device=inputs.ligand_pos.device)
        s = s.expand(b) if s.dim() == 0 else s
        if s.shape != (b,):
            raise ValueError(f"{name}: expected shape ({b},) or a scalar, got {tuple(s.shape)}")
        if not bool(torch.isfinite(s).all() and (s > 0).all()):
            raise ValueError(f"{name}: noise levels must be finite and > 0")
        cols.append(s)
    return torch.stack(cols, dim=1)
