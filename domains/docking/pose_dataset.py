"""Training data for pose diffusion: prepared cache entries → (state0, graph batch) pairs.

Each step draws, per complex, one of its K cached conformers (seeded, see :class:`ConformerSampler`);
the graph holds that conformer as the reference ``ligand.pos`` (the crystal pose stays in
``ligand.crystal_pos``) and the batch's target state is :func:`~.pose_diffusion.target_state`. No
augmentation: the score model is SE(3)-equivariant, so a global rotation of the complex would only
rotate its outputs. The receptor is cropped to residues whose Cα lies within ``receptor_radius`` Å of
the pocket-box centre (:func:`crop_receptor`); the same crop is applied when docking.

Reads ``<cache>/<id>.pt`` with ``torch.load(weights_only=True)`` only (:func:`read_prepared`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from sciffusion.common.manifolds.product import State
from sciffusion.domains.docking.collate import collate_complexes
from sciffusion.domains.docking.graphs import GraphConfig, build_graph
from sciffusion.domains.docking.pose_diffusion import LigandLayout, target_state


def read_prepared(path: str | Path) -> dict:
    """One prepared ``<id>.pt`` (tensor dict of :mod:`.graphs` + ``id``, ``meta``), torch alone,
    weights-only; a missing or unreadable file is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such prepared entry")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable prepared entry ({type(exc).__name__})") from None


@dataclass(frozen=True)
class PoseDataConfig:
    """receptor_radius: keep residues with Cα within this many Å of the pocket-box centre (None: the
    whole receptor). graph: the radius settings of :func:`~.graphs.build_graph`."""

    receptor_radius: float | None = 30.0
    graph: GraphConfig = field(default_factory=GraphConfig)

    def __post_init__(self) -> None:
        if self.receptor_radius is not None and not (0 < self.receptor_radius < math.inf):
            raise ValueError(f"receptor_radius: must be a finite number > 0 Å or null, got {self.receptor_radius}")
        if not isinstance(self.graph, GraphConfig):
            raise ValueError(f"graph: must be a GraphConfig, got {type(self.graph).__name__}")

    def to_dict(self) -> dict:
        g = self.graph
        return {"receptor_radius": self.receptor_radius,
                "graph": {k: getattr(g, k) for k in ("ligand_cutoff", "receptor_cutoff", "cross_cutoff",
                                                     "atom_cutoff", "max_neighbors", "chunk_size")}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PoseDataConfig":
        unknown = set(d) - {"receptor_radius", "graph"}
        if unknown:
            raise ValueError(f"data config: unknown keys {sorted(unknown)}")
        graph = d.get("graph", {})
        try:
            graph = GraphConfig(**graph)
        except TypeError as exc:
            raise ValueError(f"data config: graph: {exc}") from None
        return cls(d.get("receptor_radius", 30.0), graph)


def crop_receptor(tensors: Mapping[str, Any], radius: float | None) -> dict:
    """A copy of a complex tensor dict keeping residues (and their atoms, when present) whose Cα lies
    within ``radius`` Å of ``pocket.center``; at least the nearest residue is kept. None: unchanged."""
    out = dict(tensors)
    if radius is None:
        return out
    rec = tensors["receptor"]
    dist = (rec["pos"] - tensors["pocket"]["center"].to(rec["pos"].dtype)).norm(dim=-1)
    keep = dist <= radius
    if not keep.any():
        keep = dist == dist.min()
    out["receptor"] = {k: v[keep] for k, v in rec.items()}
    if "atoms" in tensors:
        atoms = tensors["atoms"]
        inside = torch.isin(atoms["residue_index"], rec["residue_index"][keep])
        out["atoms"] = {k: v[inside] for k, v in atoms.items()}
    return out


def training_graph(tensors: Mapping[str, Any], conformer: int, config: PoseDataConfig = PoseDataConfig()):
    """Graph of one cache entry for training on conformer ``conformer``: receptor cropped, ``ligand.pos``
    = the conformer [N, 3] Å (the reference of the chart), ``ligand.crystal_pos`` = the crystal pose,
    and the stored change (``rot_conformer_delta``, ``conformer_rotation``, ``conformer_translation``)."""
    data = build_graph(crop_receptor(tensors, config.receptor_radius), config.graph, conformer=conformer)
    lig = data["ligand"]
    lig.crystal_pos = lig.pos
    lig.pos = lig.conformer_pos
    del lig.conformer_pos
    return data


def collate_training(graphs: Sequence, torsions: bool = True) -> tuple[State, Any]:
    """(state0, graph batch) of training graphs: the batch's :func:`~.pose_diffusion.target_state`
    (``torsions=False``: the rigid process's target)."""
    batch = collate_complexes(graphs)
    return target_state(batch, LigandLayout.of(batch), torsions=torsions), batch


class ConformerSampler(torch.utils.data.Sampler):
    """Yields ``(entry, conformer)`` pairs: a permutation of the entries per epoch (``shuffle``) and a
    uniform conformer of the K of each, both from ``numpy.random.default_rng([seed, epoch])``, so an
    epoch repeats for a given seed. ``fixed_conformer``: always that conformer, entries in order (validation)."""

    def __init__(self, conformer_counts: Sequence[int], seed: int = 0, shuffle: bool = True,
                 fixed_conformer: int | None = None) -> None:
        if not conformer_counts or min(conformer_counts) < 1:
            raise ValueError("entries: need at least one entry, each with >= 1 conformer")
        self.counts, self.seed, self.shuffle, self.fixed = list(conformer_counts), seed, shuffle, fixed_conformer
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.counts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.counts)) if self.shuffle else np.arange(len(self.counts))
        for i in order.tolist():
            k = min(self.fixed, self.counts[i] - 1) if self.fixed is not None else int(rng.integers(self.counts[i]))
            yield i, k


class PoseDataset(torch.utils.data.Dataset):
    """Cache entries in memory; ``dataset[(i, k)]`` is :func:`training_graph` of entry i, conformer k
    (built once, then kept). Entries without conformers are refused, one line naming the id."""

    def __init__(self, entries: Sequence[Mapping[str, Any]], config: PoseDataConfig = PoseDataConfig()) -> None:
        for entry in entries:
            confs = entry.get("conformers")
            if confs is None or confs["pos"].shape[0] == 0:
                raise ValueError(f"{entry.get('id', '?')}: cache entry has no conformers (prepare with --conformers 4)")
        self.entries, self.config = list(entries), config
        self._graphs: dict[tuple[int, int], Any] = {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def conformer_counts(self) -> list[int]:
        return [int(e["conformers"]["pos"].shape[0]) for e in self.entries]

    @property
    def ids(self) -> list[str]:
        return [str(e.get("id", i)) for i, e in enumerate(self.entries)]

    def __getitem__(self, key: tuple[int, int]):
        if key not in self._graphs:
            self._graphs[key] = training_graph(self.entries[key[0]], key[1], self.config)
        return self._graphs[key]


def matched_rmsd(graph, state: State) -> Tensor:
    """Per-ligand RMSD [B] Å between :func:`~.pose_diffusion.poses` of ``state`` and ``ligand.crystal_pos``."""
    from sciffusion.domains.docking.pose_diffusion import poses

    layout = LigandLayout.of(graph)
    diff = ((poses(graph["ligand"].pos, state, layout) - graph["ligand"].crystal_pos) ** 2).sum(-1)
    total = torch.zeros(layout.num_ligands, dtype=diff.dtype).index_add_(0, layout.batch, diff)
    count = torch.bincount(layout.batch, minlength=layout.num_ligands).to(diff.dtype)
    return (total / count).sqrt()


__all__ = ["ConformerSampler", "PoseDataConfig", "PoseDataset", "collate_training", "crop_receptor",
           "matched_rmsd", "read_prepared", "training_graph"]
