"""Candidate binding pockets of a protein from its heavy atoms alone, for blind docking.

A grid method in the spirit of LIGSITE (Hendlich et al. 1997) and its buriedness variants, own code:

1. a cubic grid of ``spacing`` Å over the protein's bounding box (padded by ``ray_length``);
2. the distance of every grid point to the nearest heavy atom (exact Euclidean distance transform,
   ``scipy.ndimage.distance_transform_edt``, of the atom-occupied voxels);
3. candidate points: empty (nearest atom ≥ ``clearance`` Å, room for a ligand atom) yet close to the
   surface (nearest atom ≤ ``shell`` Å);
4. buriedness of a candidate: the fraction of ``directions`` rays (Fibonacci sphere) that meet
   protein within ``ray_length`` Å (a voxel closer than ``ray_width`` Å to an atom), marched in
   ``spacing`` steps through the grid; points with buriedness ≥ ``min_buriedness`` are pocket points;
5. pockets: connected components of pocket points (26-neighbourhood), scored by Σ buriedness (a
   buried volume), best first; each becomes a :class:`~.pockets.Box` around its points + ``margin``.

Measured on the train+val complexes (never the test split; docs/docking.md): how often the crystal
ligand's centroid lies within 6 Å of the first pocket's centre, and of one of the first three.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sciffusion.domains.docking.pockets import Box


@dataclass(frozen=True)
class PocketFinderConfig:
    """Grid and thresholds of :func:`find_pockets` (module docstring); lengths in Å."""

    spacing: float = 1.0
    clearance: float = 3.0
    shell: float = 4.0
    ray_length: float = 10.0
    ray_width: float = 1.8
    directions: int = 60
    min_buriedness: float = 0.8
    min_points: int = 10
    margin: float = 4.0

    def __post_init__(self) -> None:
        for name in ("spacing", "clearance", "shell", "ray_length", "ray_width", "margin"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: must be a finite number > 0 Å, got {value}")
        if self.shell < self.clearance:
            raise ValueError(f"shell: must be >= clearance ({self.clearance} Å), got {self.shell}")
        if self.directions < 6:
            raise ValueError(f"directions: must be >= 6, got {self.directions}")
        if not 0 < self.min_buriedness <= 1:
            raise ValueError(f"min_buriedness: must be in (0, 1], got {self.min_buriedness}")
        if self.min_points < 1:
            raise ValueError(f"min_points: must be >= 1, got {self.min_points}")


@dataclass(frozen=True)
class Pocket:
    """One candidate pocket: ``box`` (centre = mean of its points), ``score`` Σ buriedness,
    ``points`` [P, 3] Å grid points, ``buriedness`` mean over its points in [0, 1]."""

    box: Box
    score: float
    points: np.ndarray
    buriedness: float


def sphere_directions(count: int) -> np.ndarray:
    """``count`` near-uniform unit vectors [count, 3] (Fibonacci sphere)."""
    i = np.arange(count) + 0.5
    polar = np.arccos(1 - 2 * i / count)
    azimuth = math.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=1)


def find_pockets(atom_pos: np.ndarray, count: int = 3, config: PocketFinderConfig = PocketFinderConfig()
                 ) -> list[Pocket]:
    """Up to ``count`` pockets of the protein with heavy atoms ``atom_pos`` [A, 3] Å, best first
    (module docstring). Fewer when fewer are found; none for a flat or tiny protein."""
    from scipy import ndimage

    atoms = np.asarray(atom_pos, dtype=np.float64)
    if atoms.ndim != 2 or atoms.shape[1] != 3 or len(atoms) == 0:
        raise ValueError(f"atom positions: need [A, 3] with A >= 1, got {atoms.shape}")
    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count}")
    c = config
    origin = atoms.min(0) - c.ray_length
    shape = tuple(int(v) for v in np.ceil((atoms.max(0) + c.ray_length - origin) / c.spacing) + 1)
    occupied = np.ones(shape, dtype=bool)  # distance_transform_edt measures to the nearest False voxel
    cells = np.rint((atoms - origin) / c.spacing).astype(int)
    occupied[cells[:, 0], cells[:, 1], cells[:, 2]] = False
    nearest = ndimage.distance_transform_edt(occupied, sampling=c.spacing)  # Å to the nearest atom's voxel
    candidate = (nearest >= c.clearance) & (nearest <= c.shell)
    idx = np.argwhere(candidate)
    if len(idx) == 0:
        return []
    blocked = nearest < c.ray_width
    steps = np.arange(1, int(c.ray_length / c.spacing) + 1) * c.spacing  # Å along a ray
    dirs = sphere_directions(c.directions)
    hits = np.zeros((len(idx), len(dirs)), dtype=bool)
    for s in steps:  # march every ray one step at a time, all points and directions together
        probe = np.rint(idx[:, None, :] + dirs[None] * (s / c.spacing)).astype(int)  # [P, D, 3] voxel indices
        for axis in range(3):
            np.clip(probe[..., axis], 0, shape[axis] - 1, out=probe[..., axis])
        hits |= blocked[probe[..., 0], probe[..., 1], probe[..., 2]]
    buried = hits.mean(axis=1)
    keep = buried >= c.min_buriedness
    grid = np.zeros(shape, dtype=bool)
    grid[tuple(idx[keep].T)] = True
    weight = np.zeros(shape)
    weight[tuple(idx[keep].T)] = buried[keep]
    labels, n = ndimage.label(grid, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return []
    sizes = ndimage.sum_labels(grid, labels, index=np.arange(1, n + 1))
    scores = ndimage.sum_labels(weight, labels, index=np.arange(1, n + 1))
    pockets = []
    for label in np.argsort(-scores, kind="stable") + 1:
        if sizes[label - 1] < c.min_points:
            continue
        points = np.argwhere(labels == label) * c.spacing + origin
        box = Box.around(points, c.margin)
        centre = points.mean(0)
        pockets.append(Pocket(Box(tuple(float(v) for v in centre), box.size), float(scores[label - 1]), points,
                              float(scores[label - 1] / sizes[label - 1])))
        if len(pockets) == count:
            break
    return pockets


__all__ = ["Pocket", "PocketFinderConfig", "find_pockets", "sphere_directions"]
