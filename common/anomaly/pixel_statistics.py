"""Whole-input pixel statistics and one Gaussian over them (score kind ``statistics``, no network).

Every score that reads *where* an input departs from normal (the per-position Gaussians of
:mod:`~sciffusion.common.anomaly.positional`, the denoiser features, the prediction residual) is
one-sided: it peaks where something is present that normal inputs do not have there. Content that is
*missing* leaves every place looking normal (an empty place is the commonest look of a place), so those
scores rank an input with an object missing as more normal than normal (docs/ood.md, twenty-first round:
0.29 for a clip with one digit where normal clips have two, PyOD 0.11–0.25). A handful of whole-input
statistics moves both ways instead: per channel, the mean and the spread of the intensity over all
pixels (how much is there, how bright, how contrasted) and, for clips, the mean and spread of the
absolute change between consecutive frames (how much moves; zero for a frozen clip). Their Mahalanobis
distance to one Gaussian fitted on the normal inputs is large for too little as for too much.

The statistics are standardised by the normal inputs' own spread before the Gaussian is fitted (so the
ridge of :meth:`~sciffusion.common.anomaly.positional.PositionStatistics.finish` is relative to each
statistic's scale), and the Gaussian is stored in the inputs' units as a one-position
:class:`~sciffusion.common.anomaly.positional.PositionGaussians`. Measured in docs/ood.md (twenty-second
round): alone, 0.91 on the missing digit and 0.88 on an extra one, 0.85 on driving collisions, 0.71 on
impossible motion (frozen clips), 0.45 on unseen digits (it cannot see shape); as the fourth member of the
clip default it lifts the missing digit from 0.29 to 0.77 and costs 0.01–0.02 where it sees nothing.
"""
from __future__ import annotations

import torch
from torch import Tensor

from sciffusion.common.anomaly.features import AnomalyScores
from sciffusion.common.anomaly.positional import PositionGaussians, PositionStatistics, mahalanobis_map

STATISTICS_FEATURE = "statistics"


def pixel_statistics(x: Tensor) -> Tensor:
    """Whole-input statistics, float64 ``[B, S]``: images ``[B, C, H, W]`` → per channel the mean and the
    standard deviation of the values (S = 2C); clips ``[B, C, T, H, W]`` of ≥ 2 frames add per channel
    the mean and standard deviation of |x_t − x_{t−1}| (S = 4C). Data units."""
    if x.dim() not in (4, 5):
        raise ValueError(f"statistics: need [B, C, H, W] or [B, C, T, H, W], got {tuple(x.shape)}")
    values = x.double().flatten(2)  # [B, C, M]
    parts = [values.mean(-1), values.std(-1, correction=0)]
    if x.dim() == 5 and x.shape[2] > 1:
        change = (x[:, :, 1:].double() - x[:, :, :-1].double()).abs().flatten(2)
        parts += [change.mean(-1), change.std(-1, correction=0)]
    return torch.cat(parts, 1)


def statistics_gaussian(x: Tensor, batch_size: int = 128) -> PositionGaussians:
    """One Gaussian over the :func:`pixel_statistics` of normal inputs ``x [N, C, (T,) H, W]`` (N ≥ 2),
    fitted on the statistics standardised by their spread over ``x``, returned in the statistics' own
    units: ``mean [1, 1, S]``, ``precision [1, 1, S, S]``."""
    stats = torch.cat([pixel_statistics(chunk) for chunk in torch.split(x, batch_size)])
    if len(stats) < 2:
        raise ValueError(f"statistics: need >= 2 normal inputs, got {len(stats)}")
    spread = stats.std(0).clamp_min(1e-6)  # a constant statistic (a channel that never changes) stays finite
    acc = PositionStatistics()
    acc.add((stats / spread)[:, None, :, None])  # [N, L=1, S, P=1]
    unit = acc.finish()
    scale = spread.float()
    return PositionGaussians(unit.mean * scale, unit.precision / (scale[:, None] * scale[None, :]))


def statistics_scores(x: Tensor, gaussian: PositionGaussians) -> AnomalyScores:
    """Scores of ``x [B, C, (T,) H, W]``: one feature, the Mahalanobis distance of its
    :func:`pixel_statistics` to ``gaussian`` (the score itself); NFE 0, no map (a whole-input statistic
    says nothing of where)."""
    distance = mahalanobis_map(pixel_statistics(x.cpu()).float()[:, None, :, None], gaussian)[:, 0, 0].double()
    return AnomalyScores(distance[:, None], (STATISTICS_FEATURE,), distance, 0)


__all__ = ["STATISTICS_FEATURE", "pixel_statistics", "statistics_gaussian", "statistics_scores"]
