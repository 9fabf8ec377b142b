"""Which anomaly score to compute, at which noise levels, for how many model calls: one typed config.

``kind``:

* ``msma``: score norms at ``levels`` σ's (NFE = levels);
* ``recon``: reconstruction MSE at ``levels`` σ's with ``recon_steps`` Euler steps each
  (NFE = levels · recon_steps);
* ``nll``: PF-ODE NLL, fixed-step Euler over [nll_sigma_min, nll_sigma_max] in ``levels`` steps
  (NFE = levels, plus ``nll_probes`` VJPs per call; exact trace when the input has ≤ 16 dimensions);
* ``complexity``: the NLL minus the zlib code length (same NFE as ``nll``);
* ``path``: DiffPath-style PF-ODE path statistics over ``levels`` σ's (NFE = levels);
* ``combined``: MSMA at ⌈levels/2⌉ σ's and reconstruction at ⌊levels/2⌋ σ's over the same range
  (NFE = levels when ``recon_steps`` = 1), features side by side;
* ``features``: the denoiser's bottleneck activations on the clean input at ``levels`` σ's in
  [feature_sigma_min, feature_sigma_max], scored by the mean distance to the ``neighbours`` nearest
  entries of a memory bank of normal training inputs (at most ``bank_size``), and, when the layer gives
  a feature map and ``patch_bank_size`` > 0, the mean of the ``patch_top`` largest nearest-patch
  distances against a bank of about ``patch_bank_size`` normal patches (PatchCore-style;
  ``patch_bank_size`` None: :data:`IMAGE_PATCH_BANK` for images ``[C, H, W]``, none for clips and vectors,
  :func:`patch_bank_for`), and, with ``positions`` (None: on for clips, off for images and vectors,
  :func:`positions_for`) and a network with a spatial first encoder level, the largest Mahalanobis
  distance of the shallow features to per-position Gaussians of the normal inputs (PaDiM-style,
  :mod:`~sciffusion.common.anomaly.positional`); ``whole_input`` False leaves the whole-input distances
  out (:func:`whole_input_for`); with ``pixels`` (None: :func:`pixels_for`) one more feature with no model
  call, the largest Mahalanobis distance of the inputs' own pixel neighbourhoods (and, for clips, their
  change since the frame before) to per-position Gaussians
  (:mod:`~sciffusion.common.anomaly.embedding`; NFE = levels). Needs the network's feature layer and the
  banks, which the detector keeps;
* ``predictive`` (clips ``[C, T, H, W]`` only): the error of a context denoiser's prediction of the
  next ``target_frames`` frames (None: automatic within a call budget, :meth:`ScoreConfig.for_shape`) from the
  ``context_frames`` before them, at ``levels`` σ's in
  [sigma_min, sigma_max] (one level: sigma_min), over windows tiling the clip
  (:mod:`~sciffusion.common.anomaly.predictive`; NFE = levels × windows, :meth:`ScoreConfig.nfe_for`).
  Needs a context denoiser, which the detector trains when this kind is chosen;
* ``pixels`` (images and clips): no network and no model call (NFE 0): the largest Mahalanobis distance
  of the inputs' own pixel neighbourhoods (and, for clips, their change since the frame before) to
  per-position Gaussians of the normal ones, scored by
  :class:`~sciffusion.common.anomaly.pixel_detector.PixelGaussianDetector` (the same feature as the
  ``features`` score's ``pixels``, as a detector or an ensemble member of its own);
* ``statistics`` (images and clips): no network, NFE 0: the Mahalanobis distance of a few whole-input pixel
  statistics (per channel, mean and spread of the intensity and, for clips, of the change between frames)
  to one Gaussian of the normal ones (:mod:`~sciffusion.common.anomaly.pixel_statistics`): the one score
  that rises for content that is missing, by the same class.

σ in data units (inputs scaled to [−1, 1] for 8-bit data).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Optional

import torch
from torch import Tensor, nn

from sciffusion.common.anomaly.embedding import FeatureBank, feature_knn
from sciffusion.common.anomaly.features import AnomalyScores, concat_scores, noise_levels
from sciffusion.common.anomaly.likelihood_scores import budget_likelihood_config, complexity_corrected, nll
from sciffusion.common.anomaly.predictive import (ContextDenoiseFn, auto_target_frames, predictive_residual,
                                                  window_starts)
from sciffusion.common.anomaly.scores import msma, path_statistics, reconstruction
from sciffusion.common.denoisers import DenoiseFn
from sciffusion.common.grids import check_sigma_range

ScoreKind = Literal["msma", "recon", "nll", "complexity", "path", "combined", "features", "predictive", "pixels",
                    "statistics"]
SCORE_KINDS: tuple[str, ...] = ("msma", "recon", "nll", "complexity", "path", "combined", "features", "predictive",
                                "pixels", "statistics")
NO_NETWORK_SCORES: tuple[str, ...] = ("pixels", "statistics")
"""The score kinds that call no network (NFE 0), fitted by
:class:`~sciffusion.common.anomaly.pixel_detector.PixelGaussianDetector`."""
MAPLESS_SCORES: tuple[str, ...] = ("nll", "complexity", "statistics")
"""The score kinds with no dense map (one number per input); an ensemble has a map when one member has."""
EXACT_TRACE_MAX_DIM = 16


@dataclass(frozen=True)
class ScoreConfig:
    """Score kind, number of levels (= the model-call budget for every kind when ``recon_steps`` = 1),
    σ range of the level-based scores, reconstruction steps, the NLL's σ range and probes, and the
    ``seed`` of the reconstruction noise and Hutchinson probes (module docstring)."""

    kind: ScoreKind = "combined"
    levels: int = 10
    sigma_min: float = 0.01
    sigma_max: float = 1.0
    recon_steps: int = 1
    nll_sigma_min: float = 0.002
    nll_sigma_max: float = 80.0
    nll_probes: int = 1
    feature_sigma_min: float = 0.3
    feature_sigma_max: float = 0.6
    neighbours: int = 5
    bank_size: int = 4096
    patch_bank_size: Optional[int] = None
    patch_top: int = 4
    positions: Optional[bool] = None
    whole_input: Optional[bool] = None
    pixels: Optional[bool] = None
    context_frames: int = 3
    target_frames: Optional[int] = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SCORE_KINDS:
            raise ValueError(f"score: must be one of {', '.join(SCORE_KINDS)}, got {self.kind!r}")
        if self.levels < (2 if self.kind == "combined" else 1):
            raise ValueError(f"levels: must be >= {2 if self.kind == 'combined' else 1} for {self.kind}, "
                             f"got {self.levels}")
        check_sigma_range(self.sigma_min, self.sigma_max)
        check_sigma_range(self.nll_sigma_min, self.nll_sigma_max)
        check_sigma_range(self.feature_sigma_min, self.feature_sigma_max)
        if self.neighbours < 1 or self.bank_size < 1:
            raise ValueError(f"neighbours/bank_size: must be >= 1, got ({self.neighbours}, {self.bank_size})")
        if (self.patch_bank_size is not None and self.patch_bank_size < 0) or self.patch_top < 1:
            raise ValueError(f"patch_bank_size/patch_top: need >= 0 and >= 1, got ({self.patch_bank_size}, "
                             f"{self.patch_top})")
        if self.context_frames < 1 or (self.target_frames is not None and self.target_frames < 1):
            raise ValueError(f"context/target frames: need >= 1, got ({self.context_frames}, {self.target_frames})")
        if self.recon_steps < 1 or self.nll_probes < 1:
            raise ValueError(f"recon_steps/nll_probes: must be >= 1, got ({self.recon_steps}, {self.nll_probes})")

    @property
    def nfe(self) -> int:
        """Denoiser forward calls per input (``predictive``: per scoring window, see :meth:`nfe_for`;
        ``pixels``, ``statistics``: none)."""
        if self.kind in NO_NETWORK_SCORES:
            return 0
        if self.kind == "recon":
            return self.levels * self.recon_steps
        if self.kind == "combined":
            return (self.levels + 1) // 2 + (self.levels // 2) * self.recon_steps
        return self.levels

    def nfe_for(self, sample_shape: tuple[int, ...]) -> int:
        """Denoiser forward calls per input of ``sample_shape`` (the windows of a ``predictive`` score
        depend on the clip length T of ``[C, T, H, W]``)."""
        if self.kind != "predictive":
            return self.nfe
        if len(sample_shape) != 4:
            raise ValueError(f"score 'predictive': needs clips [C, T, H, W], got inputs of shape {list(sample_shape)}")
        return self.levels * len(window_starts(sample_shape[1], self.context_frames,
                                               self.for_shape(sample_shape).target_frames))

    def for_shape(self, sample_shape: tuple[int, ...]) -> "ScoreConfig":
        """This config with its automatic settings fixed for inputs of ``sample_shape``: a ``predictive``
        score's ``target_frames`` None becomes :func:`~sciffusion.common.anomaly.predictive.auto_target_frames`
        (the fewest frames per window that keep levels × windows ≤ 8) for clips ``[C, T, H, W]``."""
        if self.kind != "predictive" or self.target_frames is not None or len(sample_shape) != 4:
            return self
        return dataclasses.replace(self, target_frames=auto_target_frames(sample_shape[1], self.context_frames,
                                                                          self.levels))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def feature_sigmas(self) -> Tensor:
        """The ``features`` kind's levels, ``[levels]`` increasing (one level: σ_min)."""
        return _levels_from_min(self.levels, self.feature_sigma_min, self.feature_sigma_max)

    def predictive_sigmas(self) -> Tensor:
        """The ``predictive`` kind's levels, ``[levels]`` increasing (one level: σ_min)."""
        return _levels_from_min(self.levels, self.sigma_min, self.sigma_max)


def _levels_from_min(levels: int, sigma_min: float, sigma_max: float) -> Tensor:
    """``levels`` log-spaced σ's in [σ_min, σ_max], increasing; one level is σ_min itself."""
    if levels == 1:
        return torch.tensor([sigma_min])
    return noise_levels(levels, sigma_min, sigma_max)


IMAGE_PATCH_BANK = 16384


def patch_bank_for(config: ScoreConfig, sample_shape: tuple[int, ...]) -> int:
    """The patch-bank size a detector of ``sample_shape`` inputs keeps: ``config.patch_bank_size`` when
    set, else :data:`IMAGE_PATCH_BANK` for images ``[C, H, W]`` and 0 (no patches) for clips and vectors.
    Measured in docs/ood.md: patches moved MNIST 0.957 → 0.953 (a small cost for images, where PatchCore's
    local defects are expected); on clips
    under the frame-stack U-Net they moved SM-MNIST 0.727 → 0.759 but driving 0.779 → 0.700."""
    if config.patch_bank_size is not None:
        return config.patch_bank_size
    return IMAGE_PATCH_BANK if len(sample_shape) == 3 else 0


def positions_for(config: ScoreConfig, sample_shape: tuple[int, ...]) -> bool:
    """Whether a ``features`` detector of ``sample_shape`` inputs keeps per-position Gaussians:
    ``config.positions`` when set, else on for clips ``[C, T, H, W]`` and off for images and vectors.
    Measured in docs/ood.md (fifth round, same fitted networks): on the driving clips they moved the
    AUROC from 0.703 to 0.820 (alone 0.843); on MNIST 0–4 vs 5–9 from 0.954 to 0.938 (alone 0.81: a
    digit's strokes move from one normal input to the next, so no place has one normal look)."""
    if config.positions is not None:
        return config.positions
    return len(sample_shape) == 4


def pixels_for(config: ScoreConfig, sample_shape: tuple[int, ...]) -> bool:
    """Whether a ``features`` detector of ``sample_shape`` inputs also keeps per-position Gaussians of the
    inputs' own pixel neighbourhoods (with their motion, for clips): ``config.pixels`` when set, else
    on for clips ``[C, T, H, W]``, off for images and vectors. Measured in docs/ood.md (nineteenth round,
    seed 0, 10-minute `auto` fits, without / with): driving 0.847 / 0.874 (the `features` member 0.878 / 0.919,
    frame AUROC 0.49 / 0.86), SM-MNIST unseen digits 0.560 / 0.597, SM-MNIST impossible motion 0.996 / 0.999;
    on MNIST images the pixels alone score 0.80 against 0.957 for the network's features, so images keep
    them off."""
    if config.pixels is not None:
        return config.pixels
    return len(sample_shape) == 4


def whole_input_for(config: ScoreConfig, sample_shape: tuple[int, ...]) -> bool:
    """Whether a ``features`` detector scores whole-input distances to its memory bank:
    ``config.whole_input`` when set, else off for clips ``[C, T, H, W]`` that keep position Gaussians
    (:func:`positions_for`) and on otherwise. Measured in docs/ood.md (seventh round, `auto` ensemble,
    10-minute fits, seed 0, without / with): driving 0.847 / 0.821 (the `features` member 0.878 /
    0.847; session 8's 40-minute fit 0.908 / 0.882); SM-MNIST impossible motion 0.996 / 0.997; SM-MNIST
    clips of unseen digits 0.560 / 0.561. On MNIST images the whole-input distances are the score that
    works (0.957; the position Gaussians alone 0.81), so images keep them. The clip default suits short
    fits: after 40 minutes on driving (session 8) the whole-input distances had grown to 0.78–0.82 and
    helped the mean (0.863 against about 0.85 for the positions alone)."""
    if config.whole_input is not None:
        return config.whole_input
    return not (len(sample_shape) == 4 and positions_for(config, sample_shape))


def score_defaults(kind: str) -> dict[str, Any]:
    """Defaults of the options a user leaves unset, per score kind: ``levels``, the σ range and the
    calibration ``density`` (``features``: 2 levels in [0.3, 0.6], ``mean``, the settings measured on
    MNIST 0–4 vs 5–9 in docs/ood.md; ``predictive``: 1 level at σ_min = 2 (σ_max 8 for more levels),
    ``mean``, measured on SM-MNIST in docs/ood.md; ``pixels`` and ``statistics``: one feature, no σ,
    ``mean``; the others: 10 levels in [0.01, 1], ``gmm``)."""
    if kind not in SCORE_KINDS:
        raise ValueError(f"score: must be one of {', '.join(SCORE_KINDS)}, got {kind!r}")
    if kind == "features":
        return {"levels": 2, "sigma_min": 0.3, "sigma_max": 0.6, "density": "mean"}
    if kind == "predictive":
        return {"levels": 1, "sigma_min": 2.0, "sigma_max": 8.0, "density": "mean"}
    if kind in NO_NETWORK_SCORES:
        return {"levels": 1, "sigma_min": 0.01, "sigma_max": 1.0, "density": "mean"}
    return {"levels": 10, "sigma_min": 0.01, "sigma_max": 1.0, "density": "gmm"}


def compute_scores(denoise: DenoiseFn, x: Tensor, config: ScoreConfig, *,
                   generator: Optional[torch.Generator] = None, layer: Optional[nn.Module] = None,
                   bank: Optional[FeatureBank] = None,
                   context_denoise: Optional[ContextDenoiseFn] = None,
                   shallow: Optional[nn.Module] = None) -> AnomalyScores:
    """The scores of ``config`` for one batch ``x [B, ...]`` (data units). ``generator`` (CPU) seeds the
    reconstruction noise and the probes; None uses a fresh one seeded with ``config.seed``. The
    ``features`` kind also needs the network's feature ``layer`` and the memory ``bank``
    (:class:`~sciffusion.common.anomaly.embedding.FeatureBank`), and the ``shallow`` layer when the
    bank holds position Gaussians; the ``predictive`` kind needs
    ``context_denoise`` ``(x_target, σ, context) -> x0`` instead of ``denoise``."""
    g = generator if generator is not None else torch.Generator().manual_seed(config.seed)
    c = config
    if c.kind in NO_NETWORK_SCORES:
        raise ValueError(f"score {c.kind!r}: calls no denoiser; its Gaussians live in a PixelGaussianDetector")
    if c.kind == "predictive":
        if context_denoise is None:
            raise ValueError("score 'predictive': needs a context denoiser (a detector fitted with this score has one)")
        target = c.for_shape(tuple(x.shape[1:])).target_frames
        return predictive_residual(context_denoise, x, c.predictive_sigmas().to(x.device),
                                   c.context_frames, target, generator=g)
    if c.kind == "features":
        if layer is None or bank is None:
            raise ValueError("score 'features': needs the network's feature layer and a memory bank "
                             "(a fitted detector provides both)")
        return feature_knn(denoise, layer, x, c.feature_sigmas().to(x.device), bank, c.neighbours, c.patch_top,
                           shallow=shallow)
    if c.kind in ("nll", "complexity"):
        trace = "exact" if x[0].numel() <= EXACT_TRACE_MAX_DIM else "hutchinson"
        lik = budget_likelihood_config(c.levels, c.nll_sigma_min, c.nll_sigma_max, c.nll_probes, trace)
        return (nll if c.kind == "nll" else complexity_corrected)(denoise, x, lik, generator=g)
    if c.kind == "combined":
        n_msma, n_recon = (c.levels + 1) // 2, c.levels // 2
        return concat_scores([msma(denoise, x, noise_levels(n_msma, c.sigma_min, c.sigma_max)),
                              reconstruction(denoise, x, noise_levels(n_recon, c.sigma_min, c.sigma_max),
                                             steps=c.recon_steps, generator=g)])
    sigmas = noise_levels(c.levels, c.sigma_min, c.sigma_max)
    if c.kind == "msma":
        return msma(denoise, x, sigmas)
    if c.kind == "recon":
        return reconstruction(denoise, x, sigmas, steps=c.recon_steps, generator=g)
    return path_statistics(denoise, x, sigmas)


__all__ = ["EXACT_TRACE_MAX_DIM", "IMAGE_PATCH_BANK", "MAPLESS_SCORES", "NO_NETWORK_SCORES", "SCORE_KINDS", "ScoreConfig", "ScoreKind", "compute_scores",
           "patch_bank_for", "pixels_for", "positions_for", "score_defaults", "whole_input_for"]
