"""Predictive anomaly scores for ordered inputs: how well the frames of a clip follow from the frames
before them, under a denoiser conditioned on those frames.

A clip ``[C, T, ...]`` (T ordered frames, ``...`` spatial) is cut into windows of ``context`` frames
followed by ``target`` frames. A *context denoiser* ``D(x_target, σ, context)`` is trained on random
windows of normal clips (:class:`ClipWindows`): it learns the distribution of the next ``target``
frames given the ``context`` frames before them. Scoring noises the target frames of each window
(:func:`window_starts`: windows tiling frames ``context … T−1``) to a level σ with a seeded ε, denoises
them with the clean context, and takes the squared error to the true frames. At high σ the denoiser
returns the conditional mean of the next frames given the past, so the error measures how far the clip
departs from the motion the past predicts: a jump, a stop or a reversal that no normal clip makes
raises it in the frames where it happens, whatever the frames look like. This is the predictive
counterpart of reconstruction scores (Graham et al. 2023) and the conditional form of MCVD's
past-conditioned denoiser (Voleti et al. 2022), read as an anomaly score; frame-prediction errors are
the classic video anomaly signal (Liu et al. 2018, "Future frame prediction for anomaly detection").

**Persistence correction.** A raw prediction error calls a clip normal when its frames are merely easy
to predict: a frozen feed, a stopped object or an empty scene predicts itself, so its error is *lower*
than that of normal motion (measured in docs/ood.md: frozen SM-MNIST digits score below chance on the
raw error). This is the video form of the complexity bias of likelihoods (Serrà et al. 2020, "Input
complexity and out-of-distribution detection with likelihood-based generative models"), and the cure is
the same: compare with a generic reference predictor. Ours is *persistence*, the naive forecast that
repeats the last context frame (the baseline of every forecasting field). The gain of window w is
``log((e_w + ε) / (n_w + ε))`` with e_w the denoiser's MSE, n_w persistence's MSE and ε =
:data:`GAIN_EPS` (data units²): normal clips sit at a typical negative gain (the model predicts better
than persistence); a clip that stops gains less than it should (n_w → 0), a clip that jumps loses to
everything.

Features per level (``[B, 4L]``): the mean and the maximum over windows of the window MSE, then the mean
and the maximum of the gain. Scalar (uncalibrated): the mean over levels of log(ε + the maximum MSE) +
the maximum gain, two log terms of which the first rises with the unpredictable and the second with the
too predictable (a detector calibrates the features themselves).

Map ``[B, T, ...]``: per pixel and frame, (the squared prediction error (channel mean) + ε) divided by
(persistence's MSE on that frame + ε), the largest over levels, so that a frame's mean is exp(its gain):
where the model is wrong, in units of how much the frame moved (a frozen frame the model expected to
move lights up; measured on SM-MNIST in docs/ood.md, frame AUROC 0.78 → 0.89 against the raw error).
The first ``context`` frames, never predicted, take the first predicted frame's map (so that a clip's
opening frames read as its nearest evidence, not as perfectly normal: in footage cut into clips without
overlap they are a third of all frames). NFE = levels × windows.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import Tensor
from torch.utils.data import Dataset

from sciffusion.common.anomaly.features import AnomalyScores
from sciffusion.common.noise import randn_like

GAIN_EPS = 1e-3
"""ε of the persistence gain, data units² (an RMS error of 0.03 on [−1, 1] pixels): below it two
predictions count as equally good."""

ContextDenoiseFn = Callable[[Tensor, Tensor, Any], Tensor]
"""``denoise(x_target [B, C, K, ...], sigma [B], context [B, C, P, ...]) -> x0 estimate of the target``."""


PREDICTIVE_MAX_NFE = 8
"""Model calls per input an automatic ``target_frames`` keeps the predictive score within (levels ×
windows): with the ``features`` score's 2 calls the default clip ensemble stays at 10 or fewer."""


def auto_target_frames(frames: int, context: int, levels: int = 1, max_nfe: int = PREDICTIVE_MAX_NFE) -> int:
    """The fewest target frames K per window for which clips of ``frames`` frames, ``context`` frames
    given, need at most ``max_nfe`` calls at ``levels`` levels (levels × ⌈(frames − context) / K⌉); with
    fewer calls than levels allowed, one window (K = frames − context). K = 1 up to context + 8 frames at
    one level (11 frames for the default 3), 2 up to 19 frames, 3 up to 27. ValueError when the clips are
    not longer than the context."""
    if context < 1 or levels < 1 or max_nfe < 1:
        raise ValueError(f"context/levels/max_nfe: need >= 1, got ({context}, {levels}, {max_nfe})")
    predicted = frames - context
    if predicted < 1:
        raise ValueError(f"clips of {frames} frames are too short for {context} context frames and one to predict")
    windows = max(1, max_nfe // levels)
    return -(-predicted // windows)


def window_starts(frames: int, context: int, target: int) -> list[int]:
    """First target frame of each scoring window: ``context, context + target, …``, the last window
    moved back to end at frame ``frames − 1`` so every frame from ``context`` on is predicted once or
    twice. ValueError when a window does not fit in ``frames``."""
    if context < 1 or target < 1:
        raise ValueError(f"context/target frames: need >= 1, got ({context}, {target})")
    if context + target > frames:
        raise ValueError(f"clips of {frames} frames are too short for {context} context + {target} target frames")
    starts = list(range(context, frames - target + 1, target))
    if starts[-1] != frames - target:
        starts.append(frames - target)
    return starts


class ClipWindows(Dataset):
    """Random windows of clips ``x [N, C, T, ...]``: item i is ``(target [C, K, ...], context [C, P, ...])``
    of clip i, the window's start drawn uniformly from every position where it fits (torch's global RNG,
    seeded by the trainer's caller), so each epoch sees each clip once at a fresh position."""

    def __init__(self, x: Tensor, context: int, target: int):
        if x.dim() < 4:
            raise ValueError(f"x: need clips [N, C, T, ...], got shape {tuple(x.shape)}")
        window_starts(x.shape[2], context, target)  # checks that a window fits
        self.x, self.context, self.target = x, context, target

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        s = int(torch.randint(self.context, self.x.shape[2] - self.target + 1, ()))
        clip = self.x[i]
        return clip[:, s:s + self.target], clip[:, s - self.context:s]


@torch.no_grad()
def predictive_residual(denoise: ContextDenoiseFn, x: Tensor, sigmas: Tensor, context: int, target: int, *,
                        generator: Optional[torch.Generator] = None) -> AnomalyScores:
    """The predictive score of clips ``x [B, C, T, ...]`` at levels ``sigmas [L]`` (module docstring).

    generator: seeds ε (one draw per level and window, CPU); None uses a fresh one seeded with 0.
    """
    if x.dim() < 4 or len(x) == 0:
        raise ValueError(f"x: need clips [B, C, T, ...] with B >= 1, got {tuple(x.shape)}")
    if sigmas.dim() != 1 or len(sigmas) == 0 or (sigmas <= 0).any():
        raise ValueError("sigmas: need a non-empty 1-D tensor of noise levels > 0")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    starts = window_starts(x.shape[2], context, target)
    features, names, gains, frame_map = [], [], [], torch.zeros_like(x[:, 0])
    # persistence's MSE per clip and target frame of each window (the last context frame repeated), [B, K]
    persistence = [((x[:, :, s:s + target] - x[:, :, s - 1:s]) ** 2).mean(1).flatten(2).mean(2) for s in starts]
    persistence_windows = torch.stack([p.mean(1) for p in persistence], 1).double()  # [B, windows]
    for level, sigma in enumerate(sigmas):
        s = float(sigma)
        window_mse = []
        for start, persistence_frames in zip(starts, persistence):
            truth = x[:, :, start:start + target]
            noisy = truth + s * randn_like(truth, g)
            estimate = denoise(noisy, torch.full((len(x),), s, dtype=x.dtype, device=x.device),
                               x[:, :, start - context:start])
            err = ((estimate - truth) ** 2).mean(1)  # [B, K, ...], channel mean
            window_mse.append(err.flatten(1).mean(1))
            ref = (persistence_frames + GAIN_EPS).reshape(err.shape[:2] + (1,) * (err.dim() - 2))
            frame_map[:, start:start + target] = torch.maximum(frame_map[:, start:start + target],
                                                               (err + GAIN_EPS) / ref)
        per_window = torch.stack(window_mse, 1).double()
        gain = ((per_window + GAIN_EPS) / (persistence_windows + GAIN_EPS)).log()
        features += [per_window.mean(1), per_window.max(1).values, gain.mean(1), gain.max(1).values]
        names += [f"pred_mean_{level}_sigma={s:.3g}", f"pred_max_{level}_sigma={s:.3g}",
                  f"gain_mean_{level}_sigma={s:.3g}", f"gain_max_{level}_sigma={s:.3g}"]
        gains.append((per_window.max(1).values + GAIN_EPS).log() + gain.max(1).values)
    frame_map[:, :context] = frame_map[:, context:context + 1]  # context-only frames: the nearest predicted one
    feats = torch.stack(features, 1)
    return AnomalyScores(feats, tuple(names), torch.stack(gains, 1).mean(1), len(sigmas) * len(starts), frame_map)


__all__ = ["PREDICTIVE_MAX_NFE", "auto_target_frames", "ClipWindows", "ContextDenoiseFn", "GAIN_EPS", "predictive_residual", "window_starts"]
