"""Sampling a video model with the core's samplers: one block, and autoregressive rollout.

A block of T frames is drawn by a registered sampler (:func:`~sciffusion.common.samplers.get_sampler`)
on a Karras σ grid from the model's denoiser D(x, σ; cond) (its preconditioning around the EMA network),
optionally with classifier-free guidance on the event (:func:`~sciffusion.common.guidance.cfg.cfg`, the
null condition is event −1). Rollout past the training length: each block is conditioned on the last
T_past frames known so far (context, then predictions); the future block, if the model has one, is masked.
Frames are float [B, C, T, H, W] in [-1, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor

from sciffusion.domains.video.model import LoadedVideoModel
from sciffusion.domains.video.networks.condition import VideoCondition

if TYPE_CHECKING:
    from sciffusion.domains.video.event_guide import LoadedEventGuide


@dataclass(frozen=True)
class SamplingConfig:
    """sampler: a registered sampler name; steps: grid steps; σ grid (data units) on [sigma_min,
    sigma_max] with Karras ρ; guidance: CFG scale on the event (1 = plain conditional);
    guidance_interval: (lo, hi) σ range where guidance applies (None: everywhere); negative_event: the
    event index guided away from (a negative prompt: D = D(negative) + w (D(event) − D(negative))), None:
    the null label −1 (plain CFG, D(null) as the reference); init_sigma: warm
    start (SDEdit, Meng et al. 2022): a block that continues known frames starts from the last known
    frame repeated, noised to σ = init_sigma, on a grid from init_sigma down (None: from pure noise at
    sigma_max); guide_scale: strength of classifier guidance by an event guide
    (:mod:`~sciffusion.domains.video.event_guide`, passed to the sampling functions; 0 = off), applied on
    top of CFG for σ inside guide_interval (None: everywhere)."""

    sampler: str = "dpmpp_2m"
    steps: int = 10
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    guidance: float = 1.0
    guidance_interval: Optional[tuple[float, float]] = None
    negative_event: Optional[int] = None
    init_sigma: Optional[float] = None
    guide_scale: float = 0.0
    guide_interval: Optional[tuple[float, float]] = None

    def __post_init__(self) -> None:
        from sciffusion.common.grids import check_sigma_range
        from sciffusion.common.samplers.registry import SAMPLERS

        if self.sampler not in SAMPLERS:
            raise ValueError(f"--sampler: unknown {self.sampler!r} (choose one of {', '.join(SAMPLERS)})")
        if self.steps < 1:
            raise ValueError(f"--steps: must be >= 1, got {self.steps}")
        check_sigma_range(self.sigma_min, self.sigma_max)
        if not 0 <= self.guidance < math.inf:  # also refuses NaN
            raise ValueError(f"--guidance: must be a finite number >= 0, got {self.guidance}")
        if self.guidance_interval is not None:
            lo, hi = self.guidance_interval
            if not (0 <= lo <= hi and lo < math.inf):  # also refuses NaN; hi may be inf (guide from lo up)
                raise ValueError(f"--guidance-interval: need 0 <= LO <= HI in sigma units, got {lo:g},{hi:g}")
        if not 0 <= self.guide_scale < math.inf:
            raise ValueError(f"--guide-scale: must be a finite number >= 0, got {self.guide_scale}")
        if self.guide_interval is not None:
            lo, hi = self.guide_interval
            if not (0 <= lo <= hi and lo < math.inf):
                raise ValueError(f"--guide-interval: need 0 <= LO <= HI in sigma units, got {lo:g},{hi:g}")
        if self.negative_event is not None and self.negative_event < 0:
            raise ValueError(f"--negative-event: must be an event index >= 0, got {self.negative_event}")
        if self.init_sigma is not None and not self.sigma_min < self.init_sigma <= self.sigma_max:
            raise ValueError(f"--init-sigma: must be in ({self.sigma_min}, {self.sigma_max}], got {self.init_sigma}")


PREDICT_KEYS = ("sampler", "steps", "init_sigma")
"""The sampling settings a model file may recommend for prediction, under ``meta["predict"]`` (written by
``video train`` from its config's ``predict`` section): ``video predict`` uses them for every option among
these that the user does not give."""


def recommended_prediction(meta: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``meta["predict"]`` checked: keys among :data:`PREDICT_KEYS` whose values make a valid
    :class:`SamplingConfig` (init_sigma None: no warm start); ``{}`` when the file recommends nothing.
    One-line errors start with ``source`` (e.g. ``"model.ckpt: meta 'predict'"``)."""
    rec = meta.get("predict")
    if rec is None:
        return {}
    if not isinstance(rec, Mapping) or set(rec) - set(PREDICT_KEYS):
        raise ValueError(f"{source}: must map some of {', '.join(PREDICT_KEYS)} to values, got {rec!r}")
    try:
        SamplingConfig(**rec)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {' '.join(str(exc).split())}") from None
    return dict(rec)


def block_denoiser(model: LoadedVideoModel, cond: VideoCondition, sampling: SamplingConfig,
                   guide: Optional["LoadedEventGuide"] = None) -> Callable[[Tensor, Tensor], Tensor]:
    """``(x [B, C, T, H, W], σ [B]) -> x0`` for ``cond``, guided on the event when ``sampling.guidance != 1``:
    away from the null label (−1), or from ``sampling.negative_event`` when given; and, with an event
    ``guide`` and ``sampling.guide_scale`` > 0, by the guide's ∇ log p_σ(event | x) (classifier guidance,
    :func:`~sciffusion.common.guidance.gradient.classifier_guidance`)."""
    den = _cfg_denoiser(model, cond, sampling)
    if guide is None or cond.event is None or sampling.guide_scale == 0:
        return den
    from sciffusion.common.guidance.gradient import classifier_guidance

    return classifier_guidance(den, guide.log_prob(cond, cond.event), sampling.guide_scale, sampling.guide_interval)


def _cfg_denoiser(model: LoadedVideoModel, cond: VideoCondition, sampling: SamplingConfig
                  ) -> Callable[[Tensor, Tensor], Tensor]:
    """:func:`block_denoiser` without the event guide."""
    from sciffusion.common.guidance.cfg import cfg
    from sciffusion.common.training.losses import Preconditioning

    precond = Preconditioning(model.train.loss, model.train.sigma_data)

    def denoiser(c: VideoCondition) -> Callable[[Tensor, Tensor], Tensor]:
        return lambda x, sigma: precond.denoise(model.net, x, sigma, c)

    if cond.event is None or sampling.guidance == 1.0:
        return denoiser(cond)
    reference = -1 if sampling.negative_event is None else sampling.negative_event
    return cfg(denoiser(cond), denoiser(replace(cond, event=torch.full_like(cond.event, reference))),
               sampling.guidance, sampling.guidance_interval)


@torch.no_grad()
def sample_block(model: LoadedVideoModel, cond: VideoCondition, shape: tuple[int, ...], sampling: SamplingConfig,
                 generator: Optional[torch.Generator] = None, guess: Optional[Tensor] = None,
                 guide: Optional["LoadedEventGuide"] = None) -> Tensor:
    """One block ``shape`` = (B, C, T, H, W) on the network's device; ``generator`` (CPU) seeds it.
    ``guess`` [B, C, 1 or T, H, W]: the warm start of ``sampling.init_sigma`` (ignored without it);
    ``guide``: the event guide of :func:`block_denoiser`."""
    from sciffusion.common.grids import karras_grid
    from sciffusion.common.noise import randn
    from sciffusion.common.samplers.registry import get_sampler

    device = next(model.net.parameters()).device
    warm = guess is not None and sampling.init_sigma is not None
    top = sampling.init_sigma if warm else sampling.sigma_max
    sigmas = karras_grid(sampling.steps, sampling.sigma_min, top, sampling.rho).to(device)
    x = randn(shape, generator=generator).to(device) * sigmas[0]
    if warm:
        x = x + guess.to(device).expand(shape)
    result = get_sampler(sampling.sampler)(block_denoiser(model, cond.to(device), sampling, guide), sigmas, x,
                                           generator=generator)
    return result.x.clamp(-1, 1)


def _condition(model: LoadedVideoModel, known: Tensor, event: Optional[Tensor]) -> VideoCondition:
    """The condition of the next block given the frames ``known`` so far [B, C, T_known, H, W]."""
    cfg = model.config
    b, c, t_known, h, w = known.shape
    past = past_mask = future = future_mask = None
    if cfg.past_frames:
        if t_known >= cfg.past_frames:
            past, past_mask = known[:, :, t_known - cfg.past_frames:], torch.ones(b)
        else:  # too little known: an unconditional block (generation's first block)
            past, past_mask = known.new_zeros(b, c, cfg.past_frames, h, w), torch.zeros(b)
    if cfg.future_frames:
        future, future_mask = known.new_zeros(b, c, cfg.future_frames, h, w), torch.zeros(b)
    return VideoCondition(past=past, future=future, past_mask=past_mask, future_mask=future_mask, event=event)


@torch.no_grad()
def denoising_gain(model: LoadedVideoModel, clips: Tensor, sigma: float = 0.1,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """How well ``model`` denoises frames like these, per clip [B]: MSE(D(x + σε), x) / σ² over the last T
    frames x of ``clips`` [B, C, T_clip, H, W] ([-1, 1], T_clip >= T_past + T), conditioned on the T_past
    frames before them, ε ~ N(0, I) from ``generator``. Returning the noisy input scores 1 and a perfect
    denoiser 0: below 1 the model removes noise from such frames, above 1 it makes them worse than the noise
    it was given, a sign that they are unlike its training data (docs/video.md, fifteenth round: at σ 0.1,
    0.02-0.09 for the bundled models on held-out clips of their own kind, 1.04-1.7 on real dash-cam footage
    through the synthetic driving models). This is the core's one-step reconstruction error
    (:func:`~sciffusion.common.anomaly.scores.reconstruction`) in units of σ²."""
    from sciffusion.common.anomaly.scores import reconstruction

    cfg = model.config
    if clips.shape[2] < cfg.past_frames + cfg.frames:
        raise ValueError(f"denoising_gain: clips of {clips.shape[2]} frames, the model needs "
                         f"{cfg.past_frames} + {cfg.frames}")
    device = next(model.net.parameters()).device
    x = clips[:, :, -cfg.frames:].to(device)
    cond = _condition(model, clips[:, :, :-cfg.frames], None).to(device)
    error = reconstruction(block_denoiser(model, cond, SamplingConfig()), x, torch.tensor([sigma]), generator=generator)
    return error.features[:, 0].cpu() / sigma ** 2


@torch.no_grad()
def event_log_likelihoods(model: LoadedVideoModel, clips: Tensor, starts: Sequence[int], sigmas: Tensor,
                          draws: int = 1, generator: Optional[torch.Generator] = None) -> Tensor:
    """The model's own log-likelihood of each event for ``clips`` [B, C, T, H, W] ([-1, 1]): the denoising
    ELBO (:func:`~sciffusion.common.likelihood.elbo.conditional_log_likelihoods`) of the blocks that begin at
    frames ``starts`` (frames [s, s + T), T = the model's block length, each whole inside the clip), each
    conditioned as :func:`rollout` conditions it (on the frames before it; with fewer than the model's past
    frames before it, its past masked, as a generation's first block), under every event label, summed over
    the blocks. Returns [B, len(EVENTS)] nats, up to one
    constant per clip: ``softmax(dim=1)`` is the model's posterior over events (uniform prior), a classifier
    with no training of its own. ``sigmas``: increasing noise levels; NFE per clip = blocks × events × levels ×
    draws."""
    from sciffusion.common.likelihood.elbo import conditional_log_likelihoods
    from sciffusion.domains.video.events import EVENTS

    cfg = model.config
    if not cfg.events:
        raise ValueError("event_log_likelihoods: this model was trained without event labels")
    b, t = clips.shape[0], clips.shape[2]
    device = next(model.net.parameters()).device
    total = torch.zeros(b, len(EVENTS), dtype=torch.float64)
    for start in starts:
        if start < 0 or start + cfg.frames > t:
            raise ValueError(f"starts: a block of frames {start} to {start + cfg.frames - 1} is not inside clips of "
                             f"{t} frames")
        cond = _condition(model, clips[:, :, :start], None).to(device)
        denoisers = [block_denoiser(model, replace(cond, event=torch.full((b,), k, device=device)), SamplingConfig())
                     for k in range(len(EVENTS))]
        x = clips[:, :, start:start + cfg.frames].to(device)
        total += conditional_log_likelihoods(denoisers, x, sigmas.to(device), draws=draws, generator=generator).cpu()
    return total


def rollout(model: LoadedVideoModel, context: Tensor, horizon: int, sampling: SamplingConfig,
            generator: Optional[torch.Generator] = None, event: Optional[Tensor] = None,
            progress: Optional[Callable[[int], None]] = None, guide: Optional["LoadedEventGuide"] = None) -> Tensor:
    """Predict ``horizon`` frames after ``context`` [B, C, T_ctx, H, W] (T_ctx may be 0: generation),
    T frames per block; returns [B, C, horizon, H, W]. ``event`` [B] conditions every block on one event,
    [B, blocks] (``ceil(horizon / T)`` columns) each block on its own (an event's onset in one block,
    :func:`~sciffusion.domains.video.events.onset_schedule`), None none; ``progress(frames)`` is called after
    every block; ``guide``: an event guide steering every block towards its event (:func:`block_denoiser`)."""
    cfg = model.config
    if horizon < 1:
        raise ValueError(f"--frames: must be >= 1, got {horizon}")
    if context.shape[2] and context.shape[2] < cfg.past_frames:
        raise ValueError(f"--context: the model conditions on {cfg.past_frames} past frames, got {context.shape[2]}")
    if event is not None and not cfg.events:
        raise ValueError("--event: this model was trained without event labels")
    b, c, _, h, w = context.shape
    blocks = -(-horizon // cfg.frames)
    if event is not None and event.dim() == 2 and tuple(event.shape) != (b, blocks):
        raise ValueError(f"event: a schedule of shape [clips, blocks] = [{b}, {blocks}], got {list(event.shape)}")
    known = context.cpu()
    produced = 0
    while produced < horizon:
        block_event = event[:, produced // cfg.frames] if event is not None and event.dim() == 2 else event
        cond = _condition(model, known, block_event)
        guess = known[:, :, -1:] if known.shape[2] else None  # the last known frame, for a warm start
        block = sample_block(model, cond, (b, c, cfg.frames, h, w), sampling, generator, guess, guide).cpu()
        take = min(cfg.frames, horizon - produced)
        known = torch.cat([known, block[:, :, :take]], dim=2)
        produced += take
        if progress is not None:
            progress(take)
    return known[:, :, context.shape[2]:]


__all__ = ["PREDICT_KEYS", "SamplingConfig", "block_denoiser", "denoising_gain", "event_log_likelihoods", "recommended_prediction", "rollout",
           "sample_block"]
