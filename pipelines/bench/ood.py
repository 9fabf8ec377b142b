"""``sciffusion bench ood``: the diffusion anomaly detector side by side with PyOD, on the same inputs.

Protocols (seeded; every set is built here from the bundled MNIST digits or the simulator):

* ``mnist``: the bundled MNIST test digits, first 8,000 as the training pool, last 2,000 as the test
  set. Normal = digits 0–4: the detectors fit on the pool's 0–4 digits (at most ``mnist_train``); the
  test set (at most ``mnist_test``) keeps all ten classes, 5–9 are the anomalies.
* ``smmnist``: Stochastic Moving MNIST clips (``smmnist_size`` px, ``smmnist_frames`` frames, two
  digits). Fit on train-split clips; test on as many normal test-split clips as anomalous ones, each
  anomalous clip broken from a random frame t0 ∈ [⌈T/2⌉, 3T/4) on by one of three physically impossible
  motions, in turn: *teleport* (the frame content jumps by a random offset of ¼–½ of the frame, with
  wrap-around), *freeze* (everything stops mid-flight: frame t0 repeats), *reverse* (the motion runs
  backwards from t0 without touching a wall: frame t0 + k shows frame t0 − 1 − k). Frames ≥ t0 are
  labelled anomalous (frame AUROC).
* ``smmnist-digits``: content anomalies in clips (since session 10). The same SM-MNIST clips, but only
  the digits 0–4 of the bundled MNIST test images are normal: fit on train-split clips of 0–4 digits,
  test on ``smmnist_test_clips`` test-split clips of 0–4 digits and as many clips whose two digits are
  5–9 (normal motion; every frame labelled anomalous). The anomaly is what moves, not how.
* ``driving``: highway-env clips (64 px, ``driving_frames`` frames, 4 clips per episode). Fit on the
  clips of ``driving_episodes`` training episodes without a collision or near-miss label; test on the
  clips of as many further episodes (seeds disjoint), anomalous = any ``ego_collision``,
  ``other_collision`` or ``near_miss`` frame (cut-ins count as normal traffic). Events are rare (a
  few per 60 episodes), so ``driving_stores`` = (train, test) ``make-driving`` stores of different
  seeds may replace the simulation: their clips are cut into consecutive ``driving_frames``-frame
  clips; at most ``driving_train_clips`` event-free clips of the train store (a seeded draw) are
  fitted on, every clip of the test store is scored. Event-free clips that show a wreck are left out of
  both sides (since session 8): the simulation runs on after a crash, so later frames show the wreck or
  a stopped ego, which is neither normal traffic nor the labelled event (in the 200-episode test store
  made before the ``crash_in_view`` label, 62 clips after a collision against 61 anomalous ones). A
  wreck is the ``crash_in_view`` label in a frame of the clip; stores without that label count every
  clip after a collision earlier in its episode.

Ours: :class:`~sciffusion.common.anomaly.DiffusionAnomalyDetector` (``fit`` trains a U-Net through
DiffusionModule for at most ``minutes``; with ``score`` = auto, clips get the
``features+predictive+pixels+statistics`` :class:`~sciffusion.common.anomaly.EnsembleDetector`, a frame-stack
U-Net and a context denoiser with half the budget each, the pixel Gaussians and the whole-clip statistics,
images the ``features`` score), or, with ``detector``, a
detector fitted beforehand (``sciffusion ood fit`` or ``DiffusionAnomalyDetector.save``) on the same
set's normal training inputs, used as it is (its score and calibration; one set per run). PyOD: each detector of
``pyod`` with its defaults (AutoEncoder: 10 epochs) on the pixels in [0, 1], average-pooled over
space until an input has at most ``pyod_max_dim`` values. AUROC and the rest on raw scores; NFE per
input (PyOD: 0 model calls of a diffusion model); scoring time per 1,000 test inputs (fit time apart).

Writes ``results.csv``, ``results.md``, ``results.json``, ``results_by_kind.md`` (AUROC of the normal
test inputs against each kind of anomaly), ``scores_<set>.csv`` (one row per test input: ``id``,
``label``, ``kind``, then each method's raw score, then our per-level features as ``<method>: <feature>``;
for an ensemble the member scores), ``roc_<set>.png`` and ``config.json`` to ``out``
atomically.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

DATASETS = ("mnist", "smmnist", "smmnist-digits", "driving")
CLIP_SETS = ("smmnist", "smmnist-digits", "driving")
PYOD_METHODS = ("IForest", "KNN", "ECOD", "PCA", "LOF", "AutoEncoder")
BASELINES = ("pixel-gaussians",)
"""Baselines of our own with no network: ``pixel-gaussians``, per-position Gaussians of the inputs' pixels
(:func:`run_pixel_gaussians`)."""
PIXEL_GAUSSIANS = "pixel Gaussians (no network)"
DRIVING_ANOMALIES = ("ego_collision", "other_collision", "near_miss")


@dataclass(frozen=True)
class OODBenchConfig:
    """Output folder, sets, our detector's settings (training ``minutes``/``max_steps`` per set, score
    kind, levels = NFE, density, U-Net width), the PyOD detectors, set sizes and the seed."""

    out: Path
    datasets: tuple[str, ...] = ("mnist",)
    minutes: float = 10.0
    max_steps: int = 5000
    score: str = "auto"
    levels: Optional[int] = None
    sigma_min: Optional[float] = None
    sigma_max: Optional[float] = None
    density: Optional[str] = None
    recombine: tuple[str, ...] = ()
    patch_bank: Optional[int] = None
    positions: Optional[bool] = None
    whole_input: Optional[bool] = None
    pixels: Optional[bool] = None
    max_side: int = 64
    context_frames: int = 3
    target_frames: Optional[int] = 1
    base_channels: int = 32
    batch_size: int = 64
    precision: str = "auto"
    pyod: tuple[str, ...] = PYOD_METHODS
    pyod_max_dim: int = 4096
    baselines: tuple[str, ...] = BASELINES
    mnist_train: int = 4000
    mnist_test: int = 2000
    smmnist_clips: int = 1000
    smmnist_test_clips: int = 200
    smmnist_size: int = 32
    smmnist_frames: int = 8
    driving_episodes: int = 40
    driving_frames: int = 10
    driving_stores: Optional[tuple[Path, Path]] = None
    driving_train_clips: int = 1000
    seed: int = 0
    detector: Optional[Path] = None
    model: Optional[Path] = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.patch_bank is not None and self.patch_bank < 0:
            raise ValueError(f"--patch-bank: must be >= 0 (0: no patch distances), got {self.patch_bank}")
        if self.model is not None and self.detector is not None:
            raise ValueError("--model/--detector: give one (--model starts a detector that is then fitted, "
                             "--detector is one already fitted)")
        if self.model is not None and len(self.datasets) != 1:
            raise ValueError("--model: a starting checkpoint serves one set; give exactly one in --datasets")
        if self.detector is not None and len(self.datasets) != 1:
            raise ValueError("--detector: a fitted detector serves one set; give exactly one in --datasets")
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown or not self.datasets or len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"--datasets: need distinct names from {', '.join(DATASETS)}, got "
                             f"{', '.join(self.datasets) or 'none'}")
        from sciffusion.pipelines.ood.fit import AUTO_SCORE, check_model_use, score_members

        if self.model is not None and self.score != AUTO_SCORE:
            check_model_use(self.score)
        if self.score != AUTO_SCORE and "predictive" in score_members(self.score) and "mnist" in self.datasets:
            raise ValueError(f"--score {self.score}: predictive scores clips only; drop mnist from --datasets")
        ensemble = "+" in self.score or (self.score == AUTO_SCORE and set(self.datasets) & set(CLIP_SETS))
        if ensemble and (self.levels, self.sigma_min, self.sigma_max) != (None, None, None):
            raise ValueError(f"--levels/--sigma-min/--sigma-max: set per score kind, so not for an ensemble (--score "
                             f"{self.score} on clip sets); pass one --score kind")
        bad = [m for m in self.pyod if m not in PYOD_METHODS]
        if bad:
            raise ValueError(f"--pyod: unknown {bad[0]!r} (choose from {', '.join(PYOD_METHODS)})")
        from sciffusion.common.anomaly.calibration import DENSITY_KINDS

        bad = [d for d in self.recombine if d not in DENSITY_KINDS]
        if bad:
            raise ValueError(f"--recombine: unknown density {bad[0]!r} (choose from {', '.join(DENSITY_KINDS)})")
        if self.recombine and self.detector is not None:
            raise ValueError("--recombine: needs the members' held-out scores of a fit in this run, not --detector")
        if self.recombine and not ensemble:
            raise ValueError(f"--recombine: combines an ensemble's members; --score {self.score} on "
                             f"{', '.join(self.datasets)} is a single score")
        bad = [m for m in self.baselines if m not in BASELINES]
        if bad:
            raise ValueError(f"--baselines: unknown {bad[0]!r} (choose from {', '.join(BASELINES)}, or none)")
        sizes = (self.mnist_train, self.mnist_test, self.smmnist_clips, self.smmnist_test_clips, self.driving_episodes)
        if self.driving_stores is not None and Path(self.driving_stores[0]) == Path(self.driving_stores[1]):
            raise ValueError("--driving-stores: the train and test stores must differ (other episodes)")
        if min(sizes + (self.driving_train_clips,)) < 2 or self.smmnist_frames < 4 or self.driving_frames < 2 or self.pyod_max_dim < 16:
            raise ValueError("set sizes: need >= 2 inputs, >= 4 SM-MNIST frames, >= 2 driving frames, "
                             "--pyod-max-dim >= 16")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["out"] = str(self.out)
        d["detector"] = None if self.detector is None else str(self.detector)
        d["model"] = None if self.model is None else str(self.model)
        d["driving_stores"] = None if self.driving_stores is None else [str(p) for p in self.driving_stores]
        return d


@dataclass(frozen=True)
class OODSet:
    """One benchmark set: normal training pixels uint8 ``[N, (T,) H, W, C]``, test pixels, test
    labels [M] (1 = anomaly), optional test frame labels [M, T], its protocol in one line, and the
    kind of each test input [M] (``"normal"`` for label 0; None: one kind, ``"anomaly"``)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    frame_labels: Optional[np.ndarray]
    protocol: str
    kinds: Optional[np.ndarray] = None

    def kind_of_each(self) -> np.ndarray:
        """The kind of each test input, str ``[M]``."""
        if self.kinds is not None:
            return np.asarray(self.kinds)
        return np.where(np.asarray(self.labels) == 1, "anomaly", "normal")


def mnist_set(cfg: OODBenchConfig) -> OODSet:
    """MNIST 0–4 normal vs 5–9 (module docstring)."""
    from sciffusion.common.data import mnist_test_paths
    from sciffusion.common.io.idx import read_idx

    image_path, label_path = mnist_test_paths()
    images, digits = read_idx(image_path), read_idx(label_path)
    pool_images, pool_digits = images[:8000], digits[:8000]
    train = pool_images[pool_digits <= 4][:cfg.mnist_train]
    test, test_digits = images[8000:][:cfg.mnist_test], digits[8000:][:cfg.mnist_test]
    kinds = np.where(test_digits >= 5, np.char.add("digit ", test_digits.astype(str)), "normal")
    return OODSet("mnist", train[..., None], test[..., None], (test_digits >= 5).astype(np.int64), None,
                  f"fit on {len(train)} digits 0-4 of MNIST test[:8000]; test {len(test)} digits of "
                  f"MNIST test[8000:], 5-9 anomalous", kinds)


def break_motion(clip: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """One SM-MNIST clip ``[T, H, W, C]`` with impossible motion from frame t0 on (module docstring);
    returns ``(clip, t0)``."""
    frames = len(clip)
    half = (frames + 1) // 2  # ⌈T/2⌉: a reversal needs t0 frames to play back (odd T failed with ⌊T/2⌋)
    t0 = int(rng.integers(half, max(half + 1, (3 * frames) // 4)))
    out = clip.copy()
    if kind == "teleport":
        size = clip.shape[1]
        dy, dx = (int(rng.integers(size // 4, size // 2 + 1)) * int(rng.choice([-1, 1])) for _ in range(2))
        out[t0:] = np.roll(clip[t0:], (dy, dx), axis=(1, 2))
    elif kind == "freeze":
        out[t0:] = clip[t0]
    elif kind == "reverse":
        out[t0:] = clip[t0 - 1::-1][:frames - t0]
    else:
        raise ValueError(f"kind: teleport, freeze or reverse, got {kind!r}")
    return out, t0


def smmnist_set(cfg: OODBenchConfig) -> OODSet:
    """SM-MNIST normal vs impossible motion (module docstring)."""
    from sciffusion.common.data import mnist_test_paths
    from sciffusion.common.io.idx import read_idx
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist

    images = read_idx(mnist_test_paths()[0])
    shape = {"frames": cfg.smmnist_frames, "size": cfg.smmnist_size}
    train, _ = generate_smmnist(images, SMMNISTConfig(clips=cfg.smmnist_clips, split="train", seed=cfg.seed, **shape))
    n = cfg.smmnist_test_clips
    test, _ = generate_smmnist(images, SMMNISTConfig(clips=2 * n, split="test", seed=cfg.seed + 1, **shape))
    rng = np.random.default_rng([cfg.seed, 17])
    frame_labels = np.zeros((2 * n, cfg.smmnist_frames), np.int64)
    kinds = np.full(2 * n, "normal", dtype=object)
    for i in range(n, 2 * n):
        kinds[i] = ("teleport", "freeze", "reverse")[i % 3]
        test[i], t0 = break_motion(test[i], kinds[i], rng)
        frame_labels[i, t0:] = 1
    return OODSet("smmnist", train, test, frame_labels.max(1), frame_labels,
                  f"fit on {len(train)} train-split clips {cfg.smmnist_frames}x{cfg.smmnist_size}px; test {n} "
                  f"normal + {n} teleport/freeze/reverse clips (test split)", kinds.astype(str))


def smmnist_digits_set(cfg: OODBenchConfig) -> OODSet:
    """SM-MNIST clips of digits 0–4 vs clips of digits 5–9 (module docstring)."""
    from sciffusion.common.data import mnist_test_paths
    from sciffusion.common.io.idx import read_idx
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist

    images_path, labels_path = mnist_test_paths()
    images, digits = read_idx(images_path), read_idx(labels_path)
    normal, unseen = images[digits < 5], images[digits >= 5]
    shape = {"frames": cfg.smmnist_frames, "size": cfg.smmnist_size}
    n = cfg.smmnist_test_clips
    train, _ = generate_smmnist(normal, SMMNISTConfig(clips=cfg.smmnist_clips, split="train", seed=cfg.seed, **shape))
    test_normal, _ = generate_smmnist(normal, SMMNISTConfig(clips=n, split="test", seed=cfg.seed + 1, **shape))
    test_unseen, _ = generate_smmnist(unseen, SMMNISTConfig(clips=n, split="test", seed=cfg.seed + 2, **shape))
    frame_labels = np.concatenate([np.zeros((n, cfg.smmnist_frames), np.int64), np.ones((n, cfg.smmnist_frames), np.int64)])
    kinds = np.array(["normal"] * n + ["digits_5_9"] * n)
    return OODSet("smmnist-digits", train, np.concatenate([test_normal, test_unseen]), frame_labels.max(1), frame_labels,
                  f"fit on {len(train)} train-split clips of digits 0-4, {cfg.smmnist_frames}x{cfg.smmnist_size}px; "
                  f"test {n} clips of digits 0-4 + {n} of digits 5-9 (test split)", kinds)


@dataclass(frozen=True)
class DrivingClips:
    """Driving clips cut to the bench's length: video uint8 ``[M, F, H, W, C]``, anomaly flags per frame
    int64 ``[M, F]``, the kind of each clip str ``[M]`` (the first of :data:`DRIVING_ANOMALIES` it holds,
    else ``"normal"``), and ``wreck`` bool ``[M]``: the clip may show a crashed vehicle (module docstring)."""

    video: np.ndarray
    flags: np.ndarray
    kinds: np.ndarray
    wreck: np.ndarray

    def normal_traffic(self) -> np.ndarray:
        """Event-free clips that show no wreck, bool ``[M]``."""
        return (self.flags.max(1) == 0) & ~self.wreck

    def evaluable(self) -> np.ndarray:
        """Clips the test keeps: anomalous ones, and normal traffic (module docstring), bool ``[M]``."""
        return (self.flags.max(1) == 1) | ~self.wreck


def cut_driving_clips(video: np.ndarray, labels: dict[str, np.ndarray], frames: int,
                      episode: Optional[np.ndarray] = None, start_frame: Optional[np.ndarray] = None) -> DrivingClips:
    """Stored clips ``video [n, t, H, W, C]`` with per-frame event labels ``[n, t]`` (the names of
    :data:`DRIVING_ANOMALIES`, and ``ego_collision`` / ``other_collision`` as onsets; optional
    ``crash_in_view``), their ``episode`` and ``start_frame`` [n] (None: each stored clip is its own
    episode from frame 0) → consecutive ``frames``-frame clips (:class:`DrivingClips`)."""
    n, t = video.shape[:2]
    if t < frames:
        raise ValueError(f"clips of {t} frames, --driving-frames needs {frames}")
    per = t // frames
    episode = np.arange(n) if episode is None else np.asarray(episode).reshape(n)
    start = np.zeros(n, np.int64) if start_frame is None else np.asarray(start_frame, np.int64).reshape(n)
    named = {name: np.asarray(labels[name]).astype(np.int64).reshape(n, t)[:, :per * frames] for name in DRIVING_ANOMALIES}
    flags = np.zeros((n, per * frames), np.int64)
    for name in DRIVING_ANOMALIES:
        flags |= named[name]
    if "crash_in_view" in labels:
        wreck = np.asarray(labels["crash_in_view"]).reshape(n, t)[:, :per * frames].reshape(n, per, frames).any(2)
    else:  # older stores: every clip that starts after a collision earlier in its episode
        collision = (named["ego_collision"] | named["other_collision"]).astype(bool)
        onset = np.where(collision.any(1), start + collision.argmax(1), np.iinfo(np.int64).max)
        first = {e: onset[episode == e].min() for e in np.unique(episode)}
        wreck = np.array([first[e] for e in episode])[:, None] < start[:, None] + frames * np.arange(per)[None]
    kinds = np.full((n, per), "normal", dtype=object)
    for name in reversed(DRIVING_ANOMALIES):  # the first name in the tuple wins
        kinds[named[name].reshape(n, per, frames).max(2) == 1] = name
    return DrivingClips(video[:, :per * frames].reshape(n * per, frames, *video.shape[2:]),
                        flags.reshape(n * per, frames), kinds.reshape(-1).astype(str), wreck.reshape(-1))


def _store_clips(path: Path, frames: int) -> DrivingClips:
    """A ``make-driving`` store cut into consecutive ``frames``-frame clips; a store without the driving
    labels, or with clips too short, is a one-line error naming it."""
    from sciffusion.domains.video.zarr_store import open_video_store

    store = open_video_store(path, kind="dataset")
    missing = [name for name in DRIVING_ANOMALIES if name not in store.labels]
    if missing:
        raise ValueError(f"{path}: not a make-driving store (no labels/{missing[0]})")
    extra = {k: np.asarray(store.labels[k][...]) for k in ("episode", "start_frame") if k in store.labels}
    try:
        names = DRIVING_ANOMALIES + (("crash_in_view",) if "crash_in_view" in store.labels else ())
        return cut_driving_clips(np.asarray(store.video[...]), {name: store.labels[name][...] for name in names}, frames,
                                 extra.get("episode"), extra.get("start_frame"))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _driving_split(train: DrivingClips, test: DrivingClips, cap: int, seed: int) -> tuple[np.ndarray, DrivingClips, str]:
    """Normal training clips (at most ``cap``, a seeded draw), the evaluable test clips, and the counts."""
    normal = train.video[train.normal_traffic()]
    if len(normal) > cap:
        normal = normal[np.sort(np.random.default_rng(seed).permutation(len(normal))[:cap])]
    keep = test.evaluable()
    kept = DrivingClips(test.video[keep], test.flags[keep], test.kinds[keep], test.wreck[keep])
    if len(normal) < 2 or kept.flags.max(1).min() == 1 or kept.flags.max(1).max() == 0:
        raise ValueError(f"need >= 2 event-free training clips and test clips both with and without a collision or "
                         f"near-miss; got {len(normal)} training clips and {int(kept.flags.max(1).sum())} of "
                         f"{len(kept.flags)} test clips anomalous")
    left_out = int((~train.normal_traffic() & (train.flags.max(1) == 0)).sum()), int((~keep).sum())
    return normal, kept, f"event-free clips with a wreck left out: {left_out[0]} train, {left_out[1]} test"


def driving_set(cfg: OODBenchConfig) -> OODSet:
    """highway-env normal vs collision / near-miss clips (module docstring)."""
    if cfg.driving_stores is not None:
        train_path, test_path = cfg.driving_stores
        try:
            normal, test, left_out = _driving_split(_store_clips(train_path, cfg.driving_frames),
                                                    _store_clips(test_path, cfg.driving_frames),
                                                    cfg.driving_train_clips, cfg.seed)
        except ValueError as err:
            raise ValueError(f"--driving-stores {train_path},{test_path}: {err}") from None
        labels = test.flags.max(1)
        return OODSet("driving", normal, test.video, labels, test.flags,
                      f"fit on {len(normal)} event-free {cfg.driving_frames}-frame clips of {train_path}; test "
                      f"{len(labels)} clips of {test_path}, {int(labels.sum())} with a collision or near-miss; "
                      f"{left_out}", test.kinds)
    from sciffusion.domains.video.datasets.driving import DrivingConfig, check_driving_installed, generate_driving

    check_driving_installed()

    def episodes(seed: int) -> DrivingClips:
        video, labels = generate_driving(DrivingConfig(episodes=cfg.driving_episodes, size=64, seed=seed,
                                                       clip_frames=cfg.driving_frames, clips_per_episode=4))
        return cut_driving_clips(video, labels, cfg.driving_frames, labels["episode"], labels["start_frame"])

    try:
        normal, test, left_out = _driving_split(episodes(cfg.seed), episodes(cfg.seed + 100_000), 10 ** 9, cfg.seed)
    except ValueError as err:
        raise ValueError(f"--driving-episodes {cfg.driving_episodes}: {err} (events are rare in simulation: use "
                         f"more episodes or --driving-stores)") from None
    labels = test.flags.max(1)
    return OODSet("driving", normal, test.video, labels, test.flags,
                  f"fit on {len(normal)} event-free clips of {cfg.driving_episodes} episodes; test "
                  f"{len(labels)} clips of {cfg.driving_episodes} other episodes, {int(labels.sum())} with a "
                  f"collision or near-miss; {left_out}", test.kinds)


def model_inputs(pixels: np.ndarray) -> np.ndarray:
    """uint8 ``[N, (T,) H, W, C]`` → float32 ``[N, C, (T,) H, W]`` in [−1, 1] (the ``ood`` layout)."""
    return np.moveaxis(pixels.astype(np.float32) / 127.5 - 1.0, -1, 1)


def pyod_inputs(pixels: np.ndarray, max_dim: int) -> np.ndarray:
    """Pixels in [0, 1], average-pooled 2×2 over H, W until at most ``max_dim`` values, ``[N, D]``."""
    x = pixels.astype(np.float32) / 255.0
    while x[0].size > max_dim and x.shape[-3] % 2 == 0 and x.shape[-2] % 2 == 0:
        h, w = x.shape[-3:-1]
        x = x.reshape(*x.shape[:-3], h // 2, 2, w // 2, 2, x.shape[-1]).mean((-4, -2))
    return x.reshape(len(x), -1)


def _pyod_detector(name: str, seed: int):
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.pca import PCA

    return {"IForest": lambda: IForest(random_state=seed), "KNN": KNN, "ECOD": ECOD, "PCA": lambda: PCA(random_state=seed),
            "LOF": LOF, "AutoEncoder": lambda: AutoEncoder(random_state=seed, verbose=0)}[name]()


def _row(data: OODSet, method: str, scores: np.ndarray, nfe: int, fit_seconds: float,
         score_seconds: float) -> dict[str, Any]:
    from sciffusion.common.anomaly.metrics import auroc_by_kind, detection_metrics

    m = detection_metrics(scores, data.labels)
    return {"dataset": data.name, "method": method, "auroc": m.auroc, "aupr_in": m.aupr_in, "aupr_out": m.aupr_out,
            "fpr_at_95_tpr": m.fpr_at_95_tpr, "f1_max": m.f1_max, "nfe_per_input": nfe,
            "fit_seconds": round(fit_seconds, 2), "seconds_per_1000_inputs": round(1000 * score_seconds / len(scores), 3),
            "frame_auroc": None, "kind_auroc": auroc_by_kind(scores, data.labels, data.kind_of_each())}


def run_ours(data: OODSet, cfg: OODBenchConfig, progress: bool = False) -> tuple[dict[str, Any], np.ndarray]:
    """Fit our detector on the normal training set, score the test set; (row, test scores)."""
    from sciffusion.common.anomaly import make_detector
    from sciffusion.common.anomaly.features import frame_scores
    from sciffusion.common.anomaly.metrics import detection_metrics, frame_auroc
    from sciffusion.common.anomaly.score_config import NO_NETWORK_SCORES
    from sciffusion.pipelines.ood.fit import adopt_start, detector_settings, resolve_score, start_for
    from sciffusion.pipelines.ood.score import load_detector

    x = model_inputs(data.train)
    start = time.monotonic()
    if cfg.detector is not None:
        det = load_detector(cfg.detector)
        if det.sample_shape != tuple(x.shape[1:]):
            raise ValueError(f"--detector: {cfg.detector} was fitted on inputs of shape "
                             f"{list(det.sample_shape)}, the {data.name} set has {list(x.shape[1:])}")
    else:
        kind = resolve_score(cfg.score, tuple(x.shape[1:]), cfg.context_frames, cfg.target_frames)
        settings = detector_settings(kind, cfg.levels, cfg.sigma_min, cfg.sigma_max, cfg.density,
                                     minutes=cfg.minutes, max_steps=cfg.max_steps, batch_size=cfg.batch_size,
                                     seed=cfg.seed, patch_bank=cfg.patch_bank, context_frames=cfg.context_frames,
                                     target_frames=cfg.target_frames, positions=cfg.positions,
                                     whole_input=cfg.whole_input, max_side=cfg.max_side, pixels=cfg.pixels,
                                     precision=cfg.precision)
        begin = start_for(cfg.model, tuple(x.shape[1:]), settings, cfg.base_channels)
        settings = adopt_start(settings, begin)
        det = make_detector(settings)
        det.fit(x, net_config=begin.net_config, init_state=begin.state, progress=progress)
    fit_seconds = time.monotonic() - start
    start = time.monotonic()
    raw = det.score_samples(model_inputs(data.test))
    scores = det.calibration_.score(raw.features.numpy())
    method = f"ours: {det.score_name} (no network)" if det.score_name in NO_NETWORK_SCORES else \
        f"diffusion ({det.score_name})"
    row = _row(data, method, scores, raw.nfe, fit_seconds, time.monotonic() - start)
    row["feature_auroc"] = {name: detection_metrics(raw.features[:, j].numpy(), data.labels).auroc
                            for j, name in enumerate(raw.names)}  # which feature carries the detection
    row["_features"] = {name: raw.features[:, j].numpy() for j, name in enumerate(raw.names)}
    report = getattr(det, "fit_report_", None)
    row["train_steps"] = None if report is None else report.steps
    row["train_seconds"] = None if report is None else report.seconds
    row["train_precision"] = None if report is None else report.precision
    row["detector"] = None if cfg.detector is None else str(cfg.detector)
    row["started_from"] = None if cfg.model is None else str(cfg.model)
    if cfg.detector is not None and report is not None:
        row["fit_seconds"] = report.seconds  # the training of the given detector, not its loading
    per_frame = frame_scores(raw)
    if data.frame_labels is not None and per_frame is not None:
        row["frame_auroc"] = frame_auroc(per_frame.numpy(), data.frame_labels)
    row["_recombined"] = _recombined_rows(det, raw, row, data, cfg)
    return row, scores


def _recombined_rows(det, raw, row: dict[str, Any], data: OODSet, cfg: OODBenchConfig
                     ) -> list[tuple[dict[str, Any], np.ndarray]]:
    """For an ensemble ``det`` and each density of ``cfg.recombine``: the same fitted members and test
    scores ``raw``, combined by that density instead (:meth:`EnsembleDetector.recombined`, no refit), as
    (row named ``"<method> [density]"``, test scores); [] for a single detector (one score has nothing to
    combine)."""
    from sciffusion.common.anomaly import EnsembleDetector

    if not isinstance(det, EnsembleDetector):
        return []
    out = []
    for density in cfg.recombine:
        scores = det.recombined(density).calibration_.score(raw.features.numpy())
        extra = _row(data, f"{row['method']} [{density}]", scores, raw.nfe, row["fit_seconds"], 0.0)
        for key in ("seconds_per_1000_inputs", "train_steps", "train_seconds", "train_precision", "detector",
                    "started_from"):  # the members' training and scoring are shared
            extra[key] = row[key]
        out.append((extra, scores))
    return out


def run_pyod(data: OODSet, name: str, cfg: OODBenchConfig) -> tuple[dict[str, Any], np.ndarray]:
    """Fit one PyOD detector on the normal training pixels, score the test pixels; (row, test scores)."""
    train, test = pyod_inputs(data.train, cfg.pyod_max_dim), pyod_inputs(data.test, cfg.pyod_max_dim)
    det = _pyod_detector(name, cfg.seed)
    start = time.monotonic()
    det.fit(train)
    fit_seconds = time.monotonic() - start
    start = time.monotonic()
    scores = np.asarray(det.decision_function(test), dtype=np.float64)
    return _row(data, f"pyod {name}", scores, 0, fit_seconds, time.monotonic() - start), scores


def run_pixel_gaussians(data: OODSet, cfg: OODBenchConfig) -> tuple[dict[str, Any], np.ndarray]:
    """A baseline with no network: the ``pixels`` detector
    (:class:`~sciffusion.common.anomaly.PixelGaussianDetector`, PaDiM's per-position Gaussians on each
    place's 3 × 3 pixel neighbourhood and, for clips, its change since the frame before, after pooling to
    at most 1,024 positions) fitted on all the normal training inputs (no held-out part: the raw score
    needs no calibration), the frames of a clip as samples of the same Gaussians; the score is the
    largest Mahalanobis distance over positions (and frames), a frame's score its own peak (the first
    frame takes the second's). (row, test scores)."""
    from sciffusion.common.anomaly import PixelGaussianDetector
    from sciffusion.common.anomaly.metrics import frame_auroc
    from sciffusion.common.anomaly.pixel_detector import default_pixel_config

    config = dataclasses.replace(default_pixel_config(), holdout_fraction=0.0, seed=cfg.seed, max_side=None)
    start = time.monotonic()
    det = PixelGaussianDetector(config=config)
    det.train_part(model_inputs(data.train))
    fit_seconds = time.monotonic() - start
    start = time.monotonic()
    raw = det.score_samples(model_inputs(data.test))
    scores = raw.features[:, 0].numpy()
    row = _row(data, PIXEL_GAUSSIANS, scores, 0, fit_seconds, time.monotonic() - start)
    if data.frame_labels is not None and raw.frames is not None and raw.frames.shape[1] == data.frame_labels.shape[1]:
        row["frame_auroc"] = frame_auroc(raw.frames.double().numpy(), data.frame_labels)
    return row, scores


SET_BUILDERS: dict[str, Callable[[OODBenchConfig], OODSet]] = {"mnist": mnist_set, "smmnist": smmnist_set,
                                                               "smmnist-digits": smmnist_digits_set,
                                                               "driving": driving_set}


def format_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the result rows."""
    head = ("| set | method | AUROC | AUPR-in | AUPR-out | FPR@95TPR | frame AUROC | NFE/input | s per 1,000 | fit s |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    body = [f"| {r['dataset']} | {r['method']} | {r['auroc']:.4f} | {r['aupr_in']:.4f} | {r['aupr_out']:.4f} | "
            f"{r['fpr_at_95_tpr']:.4f} | {'' if r['frame_auroc'] is None else format(r['frame_auroc'], '.4f')} | "
            f"{r['nfe_per_input']} | {r['seconds_per_1000_inputs']:.2f} | {r['fit_seconds']:.1f} |" for r in rows]
    return "\n".join([head, *body])


def format_kind_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table per set: AUROC of the normal test inputs against each kind of anomaly, per method."""
    parts = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        kinds = list(mine[0]["kind_auroc"])
        parts.append(f"**{name}**\n\n| method | all | " + " | ".join(kinds) + " |\n|---|---|"
                     + "---|" * len(kinds) + "\n" + "\n".join(
                         f"| {r['method']} | {r['auroc']:.4f} | " + " | ".join(f"{r['kind_auroc'][k]:.4f}" for k in kinds)
                         + " |" for r in mine))
    return "\n\n".join(parts)


def run_ood_bench(cfg: OODBenchConfig, log: Callable[[str], None] = print, progress: bool = False) -> list[dict]:
    """Every set of ``cfg``: ours and each PyOD detector; writes the files (module docstring)."""
    import pandas as pd

    from sciffusion.common.anomaly.metrics import roc_curve
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.pipelines.ood.plots import save_roc

    refuse_existing(Path(cfg.out), cfg.overwrite, "output folder")
    rows, curves, protocols, per_input = [], {}, {}, {}
    for name in cfg.datasets:
        data = SET_BUILDERS[name](cfg)
        protocols[name] = data.protocol
        log(f"{name}: {data.protocol}")
        curves[name] = {}
        per_input[name] = pd.DataFrame({"id": np.arange(len(data.labels)), "label": data.labels,
                                        "kind": data.kind_of_each()})
        for method in ("ours", *cfg.baselines, *cfg.pyod):
            row, scores = run_ours(data, cfg, progress) if method == "ours" else \
                run_pixel_gaussians(data, cfg) if method == "pixel-gaussians" else run_pyod(data, method, cfg)
            features = row.pop("_features", {})
            for row, scores in [(row, scores), *row.pop("_recombined", [])]:
                rows.append(row)
                per_input[name][row["method"]] = scores
                for feature, values in features.items():
                    per_input[name][f"{row['method']}: {feature}"] = values
                features = {}  # the members' scores once, under the first row
                fpr, tpr, _ = roc_curve(scores, data.labels)
                curves[name][row["method"]] = (fpr, tpr, row["auroc"])
                log(f"  {row['method']:24s} AUROC {row['auroc']:.4f}  NFE {row['nfe_per_input']}  "
                    f"{row['seconds_per_1000_inputs']:.2f} s/1000  (fit {row['fit_seconds']:.1f} s)")
                log("    per kind: " + ", ".join(f"{k} {v:.4f}" for k, v in row["kind_auroc"].items()))
                if row.get("feature_auroc"):
                    log("    per feature: " + ", ".join(f"{k} {v:.4f}" for k, v in row["feature_auroc"].items()))
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        pd.DataFrame(rows).to_csv(tmp / "results.csv", index=False)
        (tmp / "results.md").write_text(format_table(rows) + "\n")
        (tmp / "results_by_kind.md").write_text(format_kind_table(rows) + "\n")
        for name, table in per_input.items():
            table.to_csv(tmp / f"scores_{name}.csv", index=False)
        (tmp / "results.json").write_text(json.dumps({"rows": rows, "protocols": protocols}, indent=2) + "\n")
        (tmp / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        for name, lines in curves.items():
            save_roc(lines, tmp / f"roc_{name}.png", title=f"ROC, {name}")
    return rows


__all__ = ["BASELINES", "DATASETS", "DrivingClips", "OODBenchConfig", "OODSet", "PYOD_METHODS", "break_motion", "cut_driving_clips",
           "format_kind_table", "format_table", "mnist_set",
           "pyod_inputs", "run_ood_bench", "run_pixel_gaussians", "smmnist_digits_set", "smmnist_set"]
