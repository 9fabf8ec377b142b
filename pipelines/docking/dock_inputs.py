"""``sciffusion dock`` settings: the typed config, the pocket it names, the device and the pose
generator (``--model``)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from sciffusion.domains.docking.pockets import BlindPocket, Box, BoxPocket, PocketSpec, ResiduePocket
from sciffusion.common.io.outputs import refuse_over_inputs

SEED_MAX = 2**32 - 1
DEFAULT_POCKET_MARGIN = 4.0
RANDOM_MODEL = "random"
PHYSICS_MODEL = "physics"
from sciffusion.domains.docking.physics import RANK_BY  # noqa: E402  (one list of rankings)

DEFAULT_SAMPLER = "heun"
"""Product sampler of a learned model when ``--sampler`` is not given."""
BUNDLED_MODEL_NAME = "dock_model.pt"
BUNDLED_CONFIDENCE_NAME = "dock_confidence.pt"
BUNDLED_RANKER_NAME = "dock_ranker.json"
"""File name of the bundled score model in ``domains/docking/data/`` (none is bundled yet)."""


@dataclass(frozen=True)
class DockConfig:
    """Everything one ``sciffusion dock`` run needs (units Å).

    protein: PDB/mmCIF (``.gz`` ok). ligand: a ligand file or a SMILES string. out: output folder
    (refused if it exists, unless ``overwrite``). Pocket, at most one of: ``ref_ligand`` (its heavy-atom
    box + ``pocket_margin``), ``center`` and ``size`` (explicit box), ``residues`` (``"A:45"``; their box
    + ``pocket_margin``); none = blind (whole protein). samples: poses per ligand; top_k: ranked poses
    written as ``rank<k>.sdf``; steps, sampler: the learned generator's reverse diffusion (unused by the
    random control; sampler None = the model's default). model: None (bundled model), ``"random"``
    (random-pose control) or a checkpoint path, read weights-only unless ``trust_checkpoint``.
    confidence: a learned model's ranking confidence (``confidence.ckpt`` of ``sciffusion docking
    train-confidence``; None: the clash/contact score).
    keep_conformer: start from a 3D input's own conformer instead of a seeded ETKDG one.
    conformers: start conformers per ligand (seeded ETKDG; samples go round robin over them).
    refine_steps: Vina-like refinement (Adam steps) of every generated pose, 0 = off (``physics``: per
    Monte-Carlo round, 0 = its default; ``sciffusion dock`` defaults to 100, the API to 0). rank_by:
    ``confidence``, ``vina`` or ``combined`` (:mod:`~sciffusion.domains.docking.physics`); None: ``vina``
    when poses are refined or for ``physics``, else ``confidence`` (then the run stays the plain
    generator's and builds no grid); ``learned``: the pose ranker ``ranker`` (JSON of ``sciffusion docking
    train-ranker``; None: the bundled one). contact_penalty: refinement keeps ligand–receptor pairs at
    0.8 × their radii sum and poses failing PoseBusters' minimum distance rank last
    (:mod:`~sciffusion.domains.docking.contact_distance`; off by default, chosen on val). guidance_scale: physics
    guidance of a learned model's sampler, mol/kcal, 0 = off. model ``"physics"``: the physics-only
    control (random starts + Monte-Carlo refinement under the Vina-like score).
    blind_pockets: blind docking (no pocket given) spreads the samples over this many pockets found by
    :mod:`~sciffusion.domains.docking.pocket_finder`. devices, num_nodes: Lightning's, for large screens
    (each of the devices × num_nodes processes writes its share to ``OUT.shard<r>of<W>``).
    max_heavy_atoms: larger ligands are reported as failed. progress: show a progress bar.
    posebusters: run PoseBusters ``dock`` checks (ligand + protein) on every output pose and write
    ``pb_valid``/``pb_failed`` SD properties and ``rank1_pb_valid`` in ``summary.csv`` (~0.1-0.2 s per
    pose on one CPU thread for 12-21 heavy atoms).
    """

    protein: Path
    ligand: str
    out: Path
    ref_ligand: Path | None = None
    center: tuple[float, float, float] | None = None
    size: tuple[float, float, float] | None = None
    residues: tuple[str, ...] = ()
    pocket_margin: float | None = None
    samples: int = 10
    top_k: int = 5
    steps: int = 20
    sampler: str | None = None
    seed: int = 0
    device: str = "cpu"
    model: str | None = None
    trust_checkpoint: bool = False
    confidence: Path | None = None
    batch_size: int = 8
    overwrite: bool = False
    keep_conformer: bool = False
    conformers: int = 4
    blind_pockets: int = 3
    devices: int = 1
    num_nodes: int = 1
    max_heavy_atoms: int = 150
    progress: bool = True
    refine_steps: int = 0
    rank_by: str | None = None
    ranker: Path | None = None
    contact_penalty: bool = False
    guidance_scale: float = 0.0
    posebusters: bool = False

    def __post_init__(self) -> None:
        for flag, value, low in (("--samples", self.samples, 1), ("--top-k", self.top_k, 1), ("--steps", self.steps, 1),
                                 ("--batch-size", self.batch_size, 1), ("--max-heavy-atoms", self.max_heavy_atoms, 1),
                                 ("--conformers", self.conformers, 1), ("--blind-pockets", self.blind_pockets, 1),
                                 ("--devices", self.devices, 1), ("--num-nodes", self.num_nodes, 1)):
            if value < low:
                raise ValueError(f"{flag}: must be >= {low}, got {value}")
        if not 0 <= self.refine_steps <= 1000:
            raise ValueError(f"--refine-steps: must be in 0..1000, got {self.refine_steps}")
        if self.rank_by is not None and self.rank_by not in RANK_BY:
            raise ValueError(f"--rank-by: must be one of {', '.join(RANK_BY)}, got {self.rank_by!r}")
        if not (math.isfinite(self.guidance_scale) and self.guidance_scale >= 0):
            raise ValueError(f"--guidance-scale: must be a finite number >= 0, got {self.guidance_scale}")
        if self.guidance_scale and self.model in (RANDOM_MODEL, PHYSICS_MODEL):
            raise ValueError(f"--guidance-scale: guides a learned model's sampler, not --model {self.model}")
        if self.top_k > self.samples:
            raise ValueError(f"--top-k: must be <= --samples ({self.samples}), got {self.top_k}")
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"--seed: must be an integer in [0, {SEED_MAX}], got {self.seed}")
        if not str(self.ligand).strip():
            raise ValueError("--ligand: empty")
        if self.sampler is not None and not self.sampler.strip():
            raise ValueError("--sampler: empty name")
        self._check_pocket()
        device_of(self.device)
        if not self.protein.exists():
            raise FileNotFoundError(f"{self.protein}: protein file not found")
        refuse_over_inputs("--out", self.out, {
            "--protein": self.protein, "--ligand": existing_path(self.ligand),
            "--ref-ligand": self.ref_ligand, "--model": None if self.model in (None, RANDOM_MODEL, PHYSICS_MODEL)
            else Path(self.model), "--confidence": self.confidence, "--ranker": self.ranker})
        if self.ref_ligand is not None and not self.ref_ligand.exists():
            raise FileNotFoundError(f"{self.ref_ligand}: reference ligand file not found")
        if self.model not in (None, RANDOM_MODEL, PHYSICS_MODEL) and not Path(self.model).exists():
            raise FileNotFoundError(f"{self.model}: model checkpoint not found (or pass --model {RANDOM_MODEL} "
                                    f"or {PHYSICS_MODEL})")
        if self.confidence is not None:
            if not Path(self.confidence).is_file():
                raise FileNotFoundError(f"{self.confidence}: confidence model file not found (--confidence)")

    def _check_pocket(self) -> None:
        if (self.center is None) != (self.size is None):
            raise ValueError("--center/--size: give both (box centre X Y Z and edge lengths SX SY SZ, Å) or neither")
        given = [flag for flag, on in (("--ref-ligand", self.ref_ligand is not None),
                                       ("--center/--size", self.center is not None),
                                       ("--residues", bool(self.residues))) if on]
        if len(given) > 1:
            raise ValueError(f"{' and '.join(given)}: give at most one pocket definition")
        if self.center is not None:
            try:
                Box(tuple(self.center), tuple(self.size))  # finite centre, sizes > 0
            except ValueError as exc:
                raise ValueError(f"--center/--size: {exc}") from None
        if self.pocket_margin is not None:
            if not (math.isfinite(self.pocket_margin) and self.pocket_margin >= 0):
                raise ValueError(f"--pocket-margin: must be a finite number >= 0 Å, got {self.pocket_margin}")
            if not (self.ref_ligand is not None or self.residues):
                raise ValueError("--pocket-margin: applies to --ref-ligand and --residues only")
        if self.residues:
            try:
                ResiduePocket(tuple(self.residues))  # CHAIN:NUMBER format
            except ValueError as exc:
                raise ValueError(f"--residues: {exc}") from None

    @property
    def pocket_kind(self) -> str:
        """``ref_ligand``, ``box``, ``residues`` or ``blind``."""
        if self.ref_ligand is not None:
            return "ref_ligand"
        if self.center is not None:
            return "box"
        return "residues" if self.residues else "blind"

    def record(self) -> dict:
        """JSON-able resolved settings (paths as strings, the margin filled in)."""
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        out["residues"] = list(self.residues)
        out["pocket_margin"] = self.margin if self.pocket_kind in ("ref_ligand", "residues") else None
        out["pocket"] = self.pocket_kind
        return out

    @property
    def margin(self) -> float:
        return DEFAULT_POCKET_MARGIN if self.pocket_margin is None else self.pocket_margin


def parse_residues(text: str | None) -> tuple[str, ...]:
    """``"A:45,A:87"`` → ``("A:45", "A:87")`` (commas or spaces; None → ``()``, no residue → error)."""
    if text is None:
        return ()
    residues = tuple(part for part in text.replace(" ", ",").split(",") if part)
    if not residues:
        raise ValueError(f"--residues: no residue in {text!r} (expected e.g. A:45,A:87)")
    return residues


def existing_path(spec: str) -> Path | None:
    """``spec`` as a path when it names an existing file or folder (else None: e.g. a SMILES string,
    which may be longer than a file name can be)."""
    try:
        return Path(spec) if Path(spec).exists() else None
    except OSError:  # ENAMETOOLONG
        return None


def pocket_spec(cfg: DockConfig) -> PocketSpec:
    """The :mod:`pockets` definition the config names (reads ``--ref-ligand``, which needs 3D
    coordinates: a 2D or all-zero record says nothing about where the pocket is)."""
    from sciffusion.domains.docking.ligand_io import read_ligand
    from sciffusion.domains.docking.pockets import ligand_pocket_from_mol

    kind = cfg.pocket_kind
    if kind == "ref_ligand":
        try:
            record = read_ligand(cfg.ref_ligand)
            if not record.has_3d:
                raise ValueError(f"{cfg.ref_ligand}: no 3D coordinates (a 2D or all-zero record cannot place the "
                                 "pocket)")
            return ligand_pocket_from_mol(record.mol, margin=cfg.margin)
        except ValueError as exc:
            raise ValueError(f"--ref-ligand: {exc}") from None
    if kind == "box":
        return BoxPocket(Box(tuple(cfg.center), tuple(cfg.size)))
    if kind == "residues":
        return ResiduePocket(cfg.residues, margin=cfg.margin)
    return BlindPocket(margin=0.0)


from sciffusion.common.devices import device_of  # noqa: E402,F401  (re-exported; one home in common)


def bundled_confidence() -> Path | None:
    """The bundled confidence model (trained on the bundled score model's samples), or None."""
    import sciffusion.domains.docking as docking

    path = Path(docking.__file__).parent / "data" / BUNDLED_CONFIDENCE_NAME
    return path if path.is_file() else None


def bundled_model() -> Path | None:
    """The bundled score-model checkpoint, or None while none is bundled."""
    import sciffusion.domains.docking as docking

    path = Path(docking.__file__).parent / "data" / BUNDLED_MODEL_NAME
    return path if path.is_file() else None


def resolve_generator(cfg: DockConfig):
    """The :class:`pose_generators.PoseGenerator` that ``--model`` names, wrapped in
    :class:`~sciffusion.domains.docking.physics.PhysicsRanked` when ``--refine-steps`` or ``--rank-by``
    asks for physics (``--model physics``: the physics control)."""
    return with_physics(_base_generator(cfg), cfg)


def with_physics(generator, cfg: DockConfig):
    """``generator`` as it is (no refinement, confidence ranking), or wrapped with refinement, Vina-like
    scores and ``--rank-by``; ``--model physics``: the physics control. Grids are shared by the process."""
    from sciffusion.domains.docking.physics import PhysicsRanked, physics_control
    from sciffusion.domains.docking.pose_generators import clash_confidence

    if cfg.model == PHYSICS_MODEL:
        return physics_control(cfg.refine_steps, cfg.rank_by or "vina", grids=_receptor_grids(),
                               confidence_fn=ranking_of(cfg).get("confidence_fn", clash_confidence),
                               contact_penalty=cfg.contact_penalty)
    rank_by = cfg.rank_by or ("vina" if cfg.refine_steps else "confidence")  # refined poses: rank by the physics
    if not cfg.refine_steps and rank_by == "confidence":
        return generator
    return PhysicsRanked(generator, refine_steps=cfg.refine_steps, rank_by=rank_by, grids=_receptor_grids(),
                         confidence_fn=ranking_of(cfg).get("confidence_fn", clash_confidence),
                         ranker=pose_ranker_of(cfg) if rank_by == "learned" else None,
                         contact_penalty=cfg.contact_penalty)


def pose_ranker_of(cfg: DockConfig):
    """The :class:`~sciffusion.domains.docking.pose_ranker.PoseRanker` of ``--ranker`` (default: the
    bundled ``dock_ranker.json``); one-line errors on a missing or malformed file."""
    import json

    import sciffusion.domains.docking as docking
    from sciffusion.domains.docking.pose_ranker import PoseRanker

    path = Path(cfg.ranker) if cfg.ranker is not None else Path(docking.__file__).parent / "data" / BUNDLED_RANKER_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pose ranker not found (--ranker)")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a pose ranker JSON ({exc})") from None
    try:
        return PoseRanker.from_dict(data.get("ranker", data) if isinstance(data, dict) else {})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


_GRIDS: list = []
"""The process's one :class:`~sciffusion.domains.docking.pose_energy.ReceptorGrids` (created on first use)."""


def _receptor_grids():
    from sciffusion.domains.docking.pose_energy import ReceptorGrids

    if not _GRIDS:
        _GRIDS.append(ReceptorGrids())
    return _GRIDS[0]


def _base_generator(cfg: DockConfig):
    from sciffusion.domains.docking.pose_generators import RandomPoseGenerator

    if cfg.model in (RANDOM_MODEL, PHYSICS_MODEL):
        return RandomPoseGenerator(**ranking_of(cfg))
    path = Path(cfg.model) if cfg.model is not None else bundled_model()
    if path is None:
        raise ValueError(f"--model: no docking model is bundled yet; pass --model {RANDOM_MODEL} (the random-pose "
                         "control) or a checkpoint file")
    key = (_file_key(path), None if cfg.confidence is None else _file_key(Path(cfg.confidence)), cfg.trust_checkpoint,
           cfg.device, cfg.sampler, cfg.steps, cfg.guidance_scale)
    if key not in _GENERATORS:
        from sciffusion.common.io.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(path, trust=cfg.trust_checkpoint, map_location=device_of(cfg.device))
        if len(_GENERATORS) >= _GENERATOR_CACHE_SIZE:
            _GENERATORS.pop(next(iter(_GENERATORS)))
        _GENERATORS[key] = generator_from_checkpoint(checkpoint, path, cfg)
    return _GENERATORS[key]


_GENERATOR_CACHE_SIZE = 4
_GENERATORS: dict = {}
"""Learned generators already built in this process (a benchmark docks complex after complex with the
same model), keyed by the model and confidence files (path, size, mtime) and the settings used."""


def _file_key(path: Path) -> tuple:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def generator_from_checkpoint(checkpoint, path: Path, cfg: DockConfig):
    """The learned pose generator stored in ``checkpoint`` (the dict of ``RUN_DIR/model.ckpt`` written by
    ``sciffusion docking train``, already read weights-only by ``load_checkpoint``): the score model on
    ``--device``, its process and data settings, ``--sampler`` (default ``heun``), ``--steps`` and the
    learned ``--confidence`` when given."""
    from sciffusion.domains.docking.pose_dataset import PoseDataConfig
    from sciffusion.domains.docking.pose_diffusion import model_from_file
    from sciffusion.domains.docking.pose_generators import DiffusionPoseGenerator

    model, process, data = model_from_file(checkpoint, str(path))
    return DiffusionPoseGenerator(model.to(device_of(cfg.device)), process, PoseDataConfig.from_dict(data),
                                  sampler=cfg.sampler or DEFAULT_SAMPLER, steps=cfg.steps, source=str(path),
                                  guidance_scale=cfg.guidance_scale,
                                  grids=_receptor_grids() if cfg.guidance_scale else None, **ranking_of(cfg))


def ranking_of(cfg: DockConfig) -> dict:
    """The generator's ranking settings: the learned ``--confidence`` model, else the bundled one when
    the bundled score model docks (``--model`` not given), else none (the clash/contact score). The
    random control takes ``--confidence`` too, so it can be ranked exactly as the model is."""
    path = Path(cfg.confidence) if cfg.confidence is not None else (
        bundled_confidence() if cfg.model is None else None)
    if path is None:
        return {}
    from sciffusion.domains.docking.confidence import confidence_fn, load_confidence_model

    return {"confidence_fn": confidence_fn(load_confidence_model(path, trust=cfg.trust_checkpoint)),
            "confidence_source": str(path)}
