"""Pose generators: the one interface through which ``sciffusion dock`` asks for ligand poses.

A generator gets the receptor (prepared once per run), a batch of prepared ligands (heavy atoms,
one start conformer each), the pocket box and a number of samples, and returns one
:class:`PoseSet` per ligand: ``pos [K, N, 3]`` Å heavy-atom coordinates in the protein's frame
(atom order of the ligand's ``mol``) and ``confidence [K]`` (higher = better), plus optional
per-pose properties written to ``poses.sdf``. Poses must be rigid moves plus torsion changes of the
start conformer (:func:`poses_from_changes`, through :mod:`kinematics`), so bond lengths, angles,
rings and stereocentres are those of the start conformer; :func:`pose_geometry_errors` checks it.

:class:`RandomPoseGenerator` is the control ("random poses in the pocket"): Haar-uniform rotation,
centroid uniform in the box, every torsion uniform in (−π, π], ranked by :func:`clash_confidence`.
:class:`DiffusionPoseGenerator` is the learned one: reverse pose diffusion with the score model
(:mod:`.pose_diffusion`) from a prior around the pocket, ranked by the same clash/contact score until
a confidence model exists.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor

from sciffusion.common.manifolds.so3 import random_rotation
from sciffusion.domains.docking.kinematics import apply_pose, mask_to_index, torsion_tree
from sciffusion.domains.docking.pockets import Box

CLASH_DISTANCE = 2.5
"""Å: a ligand-receptor heavy-atom pair closer than this is a clash (:func:`clash_confidence`)."""
CONTACT_DISTANCE = 4.0
"""Å: a ligand heavy atom with a receptor heavy atom within this distance is in contact."""
CONTACT_WEIGHT = 0.5
"""Weight of the contact fraction in :func:`clash_confidence` (< 1: never outweighs one clash)."""
CONFIDENCE_RADIUS = 8.0
"""Å: a ``ConfidenceFn`` gets every receptor heavy atom within this distance of the poses (and maybe more)."""


@dataclass(frozen=True)
class PreparedReceptor:
    """The receptor, prepared once for every ligand of a run.

    residues: :func:`features.residue_features` (``pos`` [R, 3] Cα Å, ``type`` [R], ``side_chain_vecs``
    [R, 3, 3] Å, ``residue_index`` [R]). atoms: :func:`features.receptor_atom_features` (``pos`` [A, 3] Å
    heavy atoms, ``element`` [A], ``residue_index`` [A]). Together with a ligand's ``tensors`` and the
    pocket they form the dict :func:`graphs.build_graph` reads (:meth:`complex_tensors`).
    """

    residues: Mapping[str, Tensor]
    atoms: Mapping[str, Tensor]
    vina_types: Optional[Tensor] = None
    """[A] long XS types of ``atoms`` (:func:`~.vina_types.receptor_types`) for the Vina-like score."""

    @classmethod
    def from_protein(cls, protein) -> "PreparedReceptor":
        """From a :class:`protein.Protein`; no amino-acid residue is an error naming the file."""
        from sciffusion.domains.docking.features import receptor_atom_features, residue_features
        from sciffusion.domains.docking.vina_types import receptor_types

        if protein.num_atoms == 0:
            raise ValueError(f"{protein.path}: no receptor atoms")
        residues = residue_features(protein)
        if residues["pos"].shape[0] == 0:
            raise ValueError(f"{protein.path}: no amino-acid residues with N, CA and C atoms (the score model reads "
                             "protein residues; nucleic-acid-only receptors are not supported)")
        return cls(residues=residues, atoms=receptor_atom_features(protein), vina_types=receptor_types(protein))

    def complex_tensors(self, ligand: "PreparedLigand", pocket: Box) -> dict:
        """The tensor dict of :func:`graphs.complex_tensors` (with atoms) for one ligand and the pocket."""
        return {"ligand": dict(ligand.tensors), "receptor": dict(self.residues), "atoms": dict(self.atoms),
                "pocket": {"center": torch.tensor(pocket.center, dtype=torch.float32),
                           "size": torch.tensor(pocket.size, dtype=torch.float32)}}


@dataclass(frozen=True)
class PreparedLigand:
    """One ligand ready to dock: ``mol`` heavy-atom RDKit Mol holding C ≥ 1 start conformers (stereo
    of the input; conformer 0 first), ``tensors`` = :func:`graphs.ligand_tensors` of conformer 0
    (``x`` [N, 7], ``pos`` [N, 3] float32 Å, ``bond_index``, ``bond_type``, ``rot_edges`` [m, 2],
    ``rot_mask`` [m, N], ``rot_dihedrals``). Every pose is a rigid move + torsion change of one of
    the C conformers (:attr:`PoseSet.conformer` says which)."""

    name: str
    mol: object
    tensors: Mapping[str, Tensor]

    @classmethod
    def from_mol(cls, name: str, mol) -> "PreparedLigand":
        """From a heavy-atom Mol with a 3D conformer (hydrogens are removed by ``ligand_tensors``)."""
        from sciffusion.domains.docking.graphs import ligand_tensors

        if mol.GetNumConformers() == 0:
            raise ValueError(f"{name}: ligand has no coordinates (embed a conformer first)")
        if any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()):
            raise ValueError(f"{name}: ligand mol must be heavy-atom only (conformers.strip_hydrogens)")
        return cls(name=name, mol=mol, tensors=ligand_tensors(mol))

    @property
    def num_atoms(self) -> int:
        return int(self.tensors["x"].shape[0])

    @property
    def num_conformers(self) -> int:
        return int(self.mol.GetNumConformers())

    @property
    def start_pos(self) -> Tensor:
        """Start conformer 0 [N, 3] float64 Å (read from ``mol``, not the float32 tensor)."""
        return torch.tensor(self.mol.GetConformers()[0].GetPositions(), dtype=torch.float64)

    @property
    def start_positions(self) -> Tensor:
        """All C start conformers [C, N, 3] float64 Å."""
        return torch.stack([torch.tensor(c.GetPositions(), dtype=torch.float64) for c in self.mol.GetConformers()])

    def sample_conformers(self, samples: int) -> Tensor:
        """Start conformer of each of ``samples`` poses [K] long: round robin over the C conformers."""
        return torch.arange(samples) % self.num_conformers


@dataclass(frozen=True)
class PoseSet:
    """Poses of one ligand: ``pos`` [K, N, 3] Å (protein frame, heavy atoms, ligand atom order),
    ``confidence`` [K] (higher = better; any finite scale), ``properties``: optional extra per-pose
    values {name: [K]} (written as SD properties), ``conformer`` [K] long: the start conformer of
    each pose (None: conformer 0 for all). Any order; the pipeline ranks by confidence."""

    pos: Tensor
    confidence: Tensor
    properties: Mapping[str, Tensor] = field(default_factory=dict)
    conformer: Optional[Tensor] = None

    def __post_init__(self) -> None:
        if self.pos.dim() != 3 or self.pos.shape[-1] != 3 or self.pos.shape[0] == 0:
            raise ValueError(f"pose set: pos must be [K, N, 3] with K >= 1, got {tuple(self.pos.shape)}")
        k = self.pos.shape[0]
        if self.confidence.shape != (k,):
            raise ValueError(f"pose set: confidence must be [{k}], got {tuple(self.confidence.shape)}")
        if not (torch.isfinite(self.pos).all() and torch.isfinite(self.confidence).all()):
            raise ValueError("pose set: positions and confidences must be finite")
        for key, value in self.properties.items():
            if value.shape != (k,):
                raise ValueError(f"pose set: property {key!r} must be [{k}], got {tuple(value.shape)}")
        if self.conformer is not None and (self.conformer.shape != (k,) or self.conformer.dtype != torch.long):
            raise ValueError(f"pose set: conformer must be a long tensor [{k}], got {tuple(self.conformer.shape)}")

    def conformers(self) -> Tensor:
        """Start conformer of each pose [K] long (zeros when not given)."""
        if self.conformer is None:
            return torch.zeros(self.pos.shape[0], dtype=torch.long)
        return self.conformer

    def ranked(self) -> "PoseSet":
        """The same poses sorted by confidence, best first (stable for ties)."""
        order = torch.sort(self.confidence, descending=True, stable=True).indices
        return PoseSet(self.pos[order], self.confidence[order], {k: v[order] for k, v in self.properties.items()},
                       None if self.conformer is None else self.conformer[order.to(self.conformer.device)])


def merge_pose_sets(sets: Sequence[PoseSet], label: str) -> PoseSet:
    """One pose set from several of the same ligand (e.g. searched in different boxes): poses,
    confidences, properties and start conformers concatenated in order, plus the property ``label``
    [K] = index of the set each pose came from. The sets must carry the same property names."""
    if not sets:
        raise ValueError("pose sets: need at least one")
    names = set(sets[0].properties)
    if any(set(s.properties) != names for s in sets):
        raise ValueError("pose sets: property names differ between the sets")
    if label in names:
        raise ValueError(f"pose sets: property {label!r} already exists")
    properties = {k: torch.cat([s.properties[k].cpu() for s in sets]) for k in sets[0].properties}
    properties[label] = torch.cat([torch.full((s.pos.shape[0],), float(i), dtype=torch.float64)
                                   for i, s in enumerate(sets)])
    return PoseSet(torch.cat([s.pos.cpu() for s in sets]), torch.cat([s.confidence.cpu() for s in sets]),
                   properties, torch.cat([s.conformers().cpu() for s in sets]))


@runtime_checkable
class PoseGenerator(Protocol):
    """What ``sciffusion dock`` calls. ``generate`` returns one :class:`PoseSet` per ligand, in order,
    each with exactly ``samples`` poses; all randomness comes from ``generator`` (a seeded run repeats).
    ``describe()`` is a JSON-able dict stored in the run's ``config.json``."""

    name: str

    def generate(self, receptor: PreparedReceptor, ligands: Sequence[PreparedLigand], pocket: Box,
                 samples: int, generator: torch.Generator) -> list[PoseSet]: ...

    def describe(self) -> dict: ...


def _starts(ligand: PreparedLigand, k: int, conformer: Optional[Tensor], device) -> Tensor:
    """Start positions of K poses [K, N, 3] float64: conformer 0, or ``conformer`` [K] of the C."""
    if conformer is None:
        return ligand.start_pos.to(device).expand(k, -1, -1)
    if conformer.shape != (k,):
        raise ValueError(f"conformer: expected [{k}], got {tuple(conformer.shape)}")
    return ligand.start_positions.to(device)[conformer.to(device)]


def poses_from_changes(ligand: PreparedLigand, translation: Tensor, rotation: Tensor, delta: Tensor,
                       conformer: Optional[Tensor] = None) -> Tensor:
    """K poses of ``ligand`` from pose changes of its start conformers (kinematics convention: torsions,
    then rotation about the centroid, then translation).

    translation [K, 3] Å, rotation [K, 3, 3] or rotation vectors [K, 3] radians, delta [K, m] radians,
    conformer [K] long (start conformer of each pose; None: conformer 0) → pos [K, N, 3] float64 Å.
    """
    k = translation.shape[0]
    starts = _starts(ligand, k, conformer, translation.device)
    n = starts.shape[1]
    pos = starts[0]
    edges, mask = ligand.tensors["rot_edges"].to(pos.device), ligand.tensors["rot_mask"].to(pos.device)
    if delta.shape != (k, edges.shape[0]):
        raise ValueError(f"delta: expected [{k}, {edges.shape[0]}], got {tuple(delta.shape)}")
    mask_torsion, mask_atom = mask_to_index(mask)
    m, nnz = edges.shape[0], mask_torsion.shape[0]
    copy = torch.arange(k, device=pos.device)
    flat_edges = (edges[None] + n * copy[:, None, None]).reshape(-1, 2)
    flat_torsion = (mask_torsion[None] + m * copy[:, None]).reshape(-1)
    flat_atom = (mask_atom[None] + n * copy[:, None]).reshape(-1)
    tree = torsion_tree(flat_edges, flat_torsion, flat_atom, k * n)
    batch = copy.repeat_interleave(n)
    out = apply_pose(starts.reshape(-1, 3), batch, flat_edges, flat_torsion, flat_atom, translation.to(pos.dtype),
                     rotation.to(pos.dtype), delta.to(pos.dtype).reshape(-1), tree)
    return out.reshape(k, n, 3)


def torsion_frames(ligand: PreparedLigand, delta: Tensor, conformer: Optional[Tensor] = None
                   ) -> tuple[Tensor, Tensor]:
    """For torsion changes ``delta`` [K, m] radians of the start conformers (``conformer`` [K], None:
    conformer 0): the centroids c_δ [K, 3] Å of the changed conformers and the rotations A_δ
    [K, 3, 3] that align them back onto their start conformer
    (:func:`~.kinematics.torsion_alignments`; identity without rotatable bonds)."""
    from sciffusion.domains.docking.kinematics import torsion_alignments

    k = delta.shape[0]
    zero_t = torch.zeros(k, 3, dtype=torch.float64, device=delta.device)
    eye = torch.eye(3, dtype=torch.float64, device=delta.device).expand(k, 3, 3)
    flex = poses_from_changes(ligand, zero_t, eye, delta, conformer)  # [K, N, 3]
    n = flex.shape[1]
    batch = torch.arange(k, device=delta.device).repeat_interleave(n)
    reference = _starts(ligand, k, conformer, flex.device).reshape(-1, 3)
    rot_batch = torch.arange(k, device=delta.device).repeat_interleave(delta.shape[1])
    align = torsion_alignments(reference, flex.reshape(-1, 3), batch, k, rot_batch)
    return flex.mean(dim=1), align


def clash_confidence(pos: Tensor, receptor_pos: Tensor, chunk: int = 16) -> dict[str, Tensor]:
    """The random control's stated confidence, higher = better::

        confidence = −clashes + CONTACT_WEIGHT · contact_fraction

    clashes: ligand-receptor heavy-atom pairs closer than ``CLASH_DISTANCE`` (2.5 Å);
    contact_fraction: share of ligand heavy atoms with a receptor heavy atom within
    ``CONTACT_DISTANCE`` (4 Å), a buriedness term in [0, 1] that breaks ties between clash-free poses.
    pos [K, N, 3] Å, receptor_pos [A, 3] Å → {confidence, clashes, contact_fraction}, each [K] float64.
    """
    clashes, contact = [], []
    rec = receptor_pos.to(pos.device, torch.float64)
    for start in range(0, pos.shape[0], chunk):
        part = pos[start:start + chunk].to(torch.float64)
        if rec.shape[0] == 0:
            dist = torch.full(part.shape[:2] + (1,), math.inf, dtype=torch.float64, device=pos.device)
        else:
            dist = torch.cdist(part, rec.expand(part.shape[0], -1, -1))  # [k, N, A]
        clashes.append((dist < CLASH_DISTANCE).sum(dim=(1, 2)).to(torch.float64))
        contact.append((dist.amin(dim=2) <= CONTACT_DISTANCE).to(torch.float64).mean(dim=1))
    clash, frac = torch.cat(clashes), torch.cat(contact)
    return {"confidence": -clash + CONTACT_WEIGHT * frac, "clashes": clash, "contact_fraction": frac}


@dataclass(frozen=True)
class RandomPoseGenerator:
    """Control: random poses in the pocket. Per ligand and sample, in this order from ``generator``:
    a Haar-uniform rotation (``so3.random_rotation``), the centroid uniform in the box, every torsion
    uniform in (−π, π], start conformers round robin over the ligand's C; ranked by ``confidence_fn``
    (default :func:`clash_confidence` against the receptor heavy atoms; its other entries, e.g.
    ``clashes``, ``contact_fraction``, become properties). No model, no steps, no sampler."""

    name: str = "random"
    confidence_fn: Optional["ConfidenceFn"] = None
    confidence_source: str = ""

    def generate(self, receptor: PreparedReceptor, ligands: Sequence[PreparedLigand], pocket: Box,
                 samples: int, generator: torch.Generator) -> list[PoseSet]:
        if samples < 1:
            raise ValueError(f"samples: must be >= 1, got {samples}")
        device = generator.device
        center = torch.tensor(pocket.center, dtype=torch.float64, device=device)
        size = torch.tensor(pocket.size, dtype=torch.float64, device=device)
        rec_pos = receptor.atoms["pos"].to(device, torch.float64)
        out = []
        for ligand in ligands:
            rotation = random_rotation(samples, dtype=torch.float64, device=device, generator=generator)
            target = center + (torch.rand(samples, 3, dtype=torch.float64, device=device, generator=generator)
                               - 0.5) * size
            m = int(ligand.tensors["rot_edges"].shape[0])
            delta = (torch.rand(samples, m, dtype=torch.float64, device=device, generator=generator)
                     * 2 - 1) * math.pi
            conformer = ligand.sample_conformers(samples).to(device)
            translation = target - torsion_frames(ligand, delta, conformer)[0]
            pos = poses_from_changes(ligand, translation, rotation, delta, conformer)
            near = _atoms_near(rec_pos, pos, CONFIDENCE_RADIUS)
            scores = dict((self.confidence_fn or clash_confidence)(pos, near))
            out.append(PoseSet(pos=pos, confidence=scores.pop("confidence"), properties=scores,
                               conformer=conformer))
        return out

    def describe(self) -> dict:
        clash = (f"-(ligand-receptor heavy-atom pairs < {CLASH_DISTANCE} A) + {CONTACT_WEIGHT} * "
                 f"(fraction of ligand heavy atoms within {CONTACT_DISTANCE} A of the receptor)")
        return {"name": self.name, "kind": "random control",
                "confidence": (f"learned confidence model {self.confidence_source}" if self.confidence_source else
                               "custom confidence_fn" if self.confidence_fn else clash),
                "uses_steps": False, "uses_sampler": False}


def _atoms_near(rec_pos: Tensor, pos: Tensor, pad: float) -> Tensor:
    """Receptor atoms [A', 3] inside the bounding box of all poses ``pos`` [K, N, 3] padded by ``pad`` Å
    (the only ones that can be within ``pad`` of a ligand atom)."""
    flat = pos.reshape(-1, 3)
    keep = ((rec_pos >= flat.amin(0) - pad) & (rec_pos <= flat.amax(0) + pad)).all(dim=1)
    return rec_pos[keep]


def pose_geometry_errors(ligand: PreparedLigand, pos: Tensor, conformer: Optional[Tensor] = None) -> dict[str, float]:
    """How far poses ``pos`` [K, N, 3] Å are from rigid moves + torsion changes of their start
    conformers (``conformer`` [K] long; None: conformer 0): ``bond_length`` (largest change of any bond
    length, Å) and ``chirality_flips`` (poses × tagged stereocentres whose signed neighbour volume
    changed sign)."""
    pos = pos.to(torch.float64).cpu()
    n = ligand.start_pos.shape[0]
    if pos.dim() != 3 or pos.shape[1:] != (n, 3):
        raise ValueError(f"{ligand.name}: poses of shape {tuple(pos.shape)} for a ligand of {n} atoms")
    start = _starts(ligand, pos.shape[0], None if conformer is None else conformer.cpu(), "cpu")
    bonds = ligand.tensors["bond_index"]
    worst = 0.0
    if bonds.numel():
        ref = (start[:, bonds[0]] - start[:, bonds[1]]).norm(dim=-1)
        now = (pos[:, bonds[0]] - pos[:, bonds[1]]).norm(dim=-1)
        worst = float((now - ref).abs().max())
    quads = _chiral_quads(ligand.mol)
    flips = 0
    if quads.numel():
        flips = int((torch.sign(_signed_volumes(pos, quads)) != torch.sign(_signed_volumes(start, quads))).sum())
    return {"bond_length": worst, "chirality_flips": float(flips)}


def _chiral_quads(mol) -> Tensor:
    """(centre, three neighbours) [C, 4] for every atom with a tetrahedral chiral tag."""
    from rdkit import Chem

    quads = []
    for atom in mol.GetAtoms():
        if atom.GetChiralTag() in (Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW):
            nbrs = [n.GetIdx() for n in atom.GetNeighbors()][:3]
            if len(nbrs) == 3:
                quads.append([atom.GetIdx(), *nbrs])
    return torch.tensor(quads, dtype=torch.long).reshape(-1, 4)


def _signed_volumes(pos: Tensor, quads: Tensor) -> Tensor:
    """[K, C] signed volumes (a−c)·((b−c)×(d−c)) of neighbours a, b, d around centre c, Å³."""
    c = pos[:, quads[:, 0]]
    a, b, d = (pos[:, quads[:, i]] - c for i in (1, 2, 3))
    return (a * torch.linalg.cross(b, d)).sum(-1)


ConfidenceFn = Callable[[Tensor, Tensor], Mapping[str, Tensor]]
"""``confidence_fn(pos [K, N, 3] Å, receptor atoms near the poses [A', 3] Å) -> {"confidence": [K], ...}``
(extra [K] entries become per-pose properties); :func:`clash_confidence` by default. The receptor atoms
include every one within ``CONFIDENCE_RADIUS`` of a pose atom."""
DIFFUSION_SAMPLERS = ("heun", "euler", "euler_maruyama")


@dataclass(frozen=True, eq=False)
class DiffusionPoseGenerator:
    """Learned poses: the reverse pose diffusion of ``process`` (r3/so3/torus, :mod:`.pose_diffusion`)
    scored by ``model`` (:class:`~.score_model.DockingScoreModel`), with the core's product ``sampler``
    (``heun``, ``euler`` or ``euler_maruyama``) on a uniform grid of ``steps`` steps from t = 1 to 0,
    optionally tempered (``low_temperature``: a :class:`~sciffusion.common.samplers.low_temperature.LowTemperature`).

    Prior, per sample, in this order from ``generator``: a Haar-uniform rotation, the centroid
    c' ~ N(pocket-box centre, σ_max,tr² I) (not clipped to the box), every torsion change uniform in
    (−π, π]; applied to the ligand's start conformer (:class:`PreparedLigand`). All samples of all
    ligands of a call are one collated graph batch (receptor cropped as in training, ``data``), so one
    sampler run serves them all. Output poses are rebuilt in float64 from the start conformer
    (:func:`poses_from_changes`), so bonds and stereocentres are the conformer's.

    Confidence: poses are ranked by ``confidence_fn``: the learned confidence model of the file
    ``confidence_source`` (:func:`~.confidence.confidence_fn`, trained on this model's own samples), or
    by default :func:`clash_confidence`, the random control's clash/contact score.

    Physics guidance (``guidance_scale`` λ > 0, mol/kcal; 1/kT = 1.69 at 298 K): the score is tilted by
    exp(−λ (Vina-like inter + intra)) of the chart's poses through the core's product-space energy
    guidance (:mod:`~sciffusion.common.guidance.product`, weights and clip in :mod:`.pose_energy`),
    the receptor grids over the pocket box taken from ``grids`` (a :class:`~.pose_energy.ReceptorGrids`
    shared across calls; None: built per call). λ = 0 runs the unguided sampler unchanged."""

    model: Any
    process: Any
    data: Any
    sampler: str = "heun"
    steps: int = 20
    low_temperature: Any = None
    confidence_fn: Optional[ConfidenceFn] = None
    source: str = ""
    name: str = "diffusion"
    confidence_source: str = ""
    guidance_scale: float = 0.0
    grids: Any = None

    def __post_init__(self) -> None:
        from sciffusion.domains.docking.pose_diffusion import check_pose_process

        if not (math.isfinite(self.guidance_scale) and self.guidance_scale >= 0):
            raise ValueError(f"--guidance-scale: must be a finite number >= 0, got {self.guidance_scale}")

        if self.sampler not in DIFFUSION_SAMPLERS:
            raise ValueError(f"--sampler: must be one of {', '.join(DIFFUSION_SAMPLERS)}, got {self.sampler!r}")
        if self.steps < 1:
            raise ValueError(f"--steps: must be >= 1, got {self.steps}")
        check_pose_process(self.process)

    def prior(self, layout, pocket: Box, generator: torch.Generator) -> dict:
        """The t = 1 state of ``layout.num_ligands`` samples (class docstring), float32 on the generator's device."""
        from sciffusion.common.noise import randn

        device, b = generator.device, layout.num_ligands
        rotation = random_rotation(b, dtype=torch.float64, device=device, generator=generator)
        center = torch.tensor(pocket.center, dtype=torch.float64, device=device)
        sigma = self.process.components["r3"].sigma_max
        centroid = center + sigma * randn((b, 3), generator=generator, dtype=torch.float64, device=device)
        state = {"r3": centroid.float(), "so3": rotation.float()}
        if "torus" in self.process.components:
            m = layout.rot_edges.shape[0]
            delta = (torch.rand(m, dtype=torch.float64, device=device, generator=generator) * 2 - 1) * math.pi
            state["torus"] = layout.torsion_part(delta.float())
        return state

    def graph(self, receptor: PreparedReceptor, ligand: PreparedLigand, pocket: Box, conformer: int = 0):
        """The ligand's complex graph as in training, ``ligand.pos`` = start conformer ``conformer``
        (receptor cropped; atoms only if the model reads them)."""
        from sciffusion.domains.docking.graphs import build_graph
        from sciffusion.domains.docking.pose_dataset import crop_receptor

        tensors = receptor.complex_tensors(ligand, pocket)
        if conformer:
            tensors["ligand"]["pos"] = ligand.start_positions[conformer].to(torch.float32)
        if not self.model.config.use_atoms:
            tensors.pop("atoms")
        return build_graph(crop_receptor(tensors, self.data.receptor_radius), self.data.graph)

    def generate(self, receptor: PreparedReceptor, ligands: Sequence[PreparedLigand], pocket: Box,
                 samples: int, generator: torch.Generator) -> list[PoseSet]:
        from sciffusion.common.samplers.low_temperature import low_temperature
        from sciffusion.common.samplers.product import get_product_sampler, uniform_t_grid
        from sciffusion.domains.docking.collate import collate_complexes
        from sciffusion.domains.docking.pose_diffusion import LigandLayout, PoseScoreNet

        if samples < 1:
            raise ValueError(f"samples: must be >= 1, got {samples}")
        if not ligands:
            return []
        device = generator.device
        net = PoseScoreNet(self.model.to(device).eval(), self.process)
        graphs = []
        for lig in ligands:
            per_conformer = [self.graph(receptor, lig, pocket, c) for c in range(lig.num_conformers)]
            graphs += [per_conformer[c] for c in lig.sample_conformers(samples).tolist()]
        batch = collate_complexes(graphs).to(device)
        layout = LigandLayout.of(batch, check=True)
        state = self.prior(layout, pocket, generator)

        def score(noisy, t):
            return net(noisy, t, batch)

        if self.low_temperature is not None:
            score = low_temperature(self.process, score, self.low_temperature)
        if self.guidance_scale > 0:
            score = self._guided(score, receptor, ligands, pocket, samples, batch, layout)
        with torch.no_grad():
            final = get_product_sampler(self.sampler)(self.process, score, uniform_t_grid(self.steps), state,
                                                      generator=generator).state
        return [self._pose_set(receptor, lig, final, i * samples, samples) for i, lig in enumerate(ligands)]

    def _guided(self, score, receptor: PreparedReceptor, ligands: Sequence[PreparedLigand], pocket: Box,
                samples: int, batch, layout):
        """``score`` tilted by exp(−guidance_scale · (Vina-like inter + intra)) through the core's
        product-space energy guidance (:mod:`~sciffusion.common.guidance.product`)."""
        from sciffusion.common.guidance.product import EnergyGuidance, energy_guidance
        from sciffusion.domains.docking.pose_energy import (
            GUIDANCE_CLIP, GUIDANCE_SIGMA_DATA, ReceptorGrids, state_energy_fn,
        )

        grids = (self.grids or ReceptorGrids()).for_box(receptor, pocket)
        energy = state_energy_fn(grids, ligands, samples, batch["ligand"].pos, layout)
        config = EnergyGuidance(self.guidance_scale, {k: GUIDANCE_SIGMA_DATA[k] for k in self.process.components},
                                clip=GUIDANCE_CLIP)
        return energy_guidance(self.process, score, energy, config)

    def _pose_set(self, receptor: PreparedReceptor, ligand: PreparedLigand, final: Mapping, first: int,
                  samples: int) -> PoseSet:
        """The poses of samples ``first`` … ``first + samples − 1`` (one ligand), rebuilt in float64."""
        from sciffusion.common.manifolds.so3 import exp_map, log_map

        rows = slice(first, first + samples)
        if "torus" in final:
            torus = final["torus"]
            mine = (torus.index >= first) & (torus.index < first + samples)
            delta = torus.values[mine].double().reshape(samples, -1)
        else:  # rigid process: the start conformer's torsions
            m = ligand.tensors["rot_edges"].reshape(-1, 2).shape[0]
            delta = torch.zeros(samples, m, dtype=torch.float64, device=final["r3"].device)
        rotation = exp_map(log_map(final["so3"][rows].double()))  # back onto SO(3) after float32 steps
        centroid = final["r3"][rows].double()
        conformer = ligand.sample_conformers(samples)
        # the chart of pose_diffusion.poses in kinematics terms: rotation R A_δ, translation c' − c_δ
        centre, align = torsion_frames(ligand, delta.cpu(), conformer)
        translation = centroid - centre.to(centroid.device)
        pos = poses_from_changes(ligand, translation, rotation @ align.to(rotation.device), delta,
                                 conformer.to(delta.device))
        rec_pos = receptor.atoms["pos"].to(pos.device, torch.float64)
        scores = dict((self.confidence_fn or clash_confidence)(pos, _atoms_near(rec_pos, pos, CONFIDENCE_RADIUS)))
        confidence = scores.pop("confidence")
        return PoseSet(pos=pos, confidence=confidence, properties=scores, conformer=conformer)

    def describe(self) -> dict:
        sigma_tr = self.process.components["r3"].sigma_max
        return {"name": self.name, "kind": "pose diffusion", "checkpoint": self.source, "sampler": self.sampler,
                "steps": self.steps, "process": self.process.to_dict(),
                "guidance_scale": self.guidance_scale,
                "model": dataclasses.asdict(self.model.config), "data": self.data.to_dict(),
                "low_temperature": None if self.low_temperature is None else {
                    "temperature": dict(self.low_temperature.temperature),
                    "sigma_data": dict(self.low_temperature.sigma_data)},
                "prior": f"Haar rotation, centroid ~ N(pocket centre, {sigma_tr:g}^2 A^2) unclipped, "
                         + ("uniform torsions, " if "torus" in self.process.components else
                            "torsions of the start conformer (rigid process), ")
                         + "start conformers round robin",
                "confidence": self._confidence_text(),
                "uses_steps": True, "uses_sampler": True}

    def _confidence_text(self) -> str:
        if self.confidence_source:
            return (f"learned confidence model {self.confidence_source}: logit of P(RMSD < 2 A) from invariant "
                    "pose features (consensus with the other samples, clashes, contacts, buriedness, size)")
        if self.confidence_fn is not None:
            return "custom confidence_fn"
        return (f"no confidence model: -(ligand-receptor heavy-atom pairs < {CLASH_DISTANCE} A) + {CONTACT_WEIGHT} * "
                f"(fraction of ligand heavy atoms within {CONTACT_DISTANCE} A of the receptor)")
