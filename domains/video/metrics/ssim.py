"""Structural similarity (SSIM) per frame and per clip, Wang et al. 2004.

The convention is the one of Wang et al. and of scikit-image ``structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=...)``: an 11×11
Gaussian window (σ = 1.5 px, truncated at 3.5 σ), K1 = 0.01, K2 = 0.03, the SSIM map averaged
over pixels at least 5 px from the border (scikit-image computes the map with reflect padding and
crops those pixels; a valid convolution gives the same values), then over channels. Float64.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sciffusion.domains.video.metrics.psnr import check_same_shape

SIGMA = 1.5
TRUNCATE = 3.5
K1, K2 = 0.01, 0.03


def gaussian_kernel_1d(sigma: float = SIGMA, truncate: float = TRUNCATE) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, [2r + 1] with r = int(truncate · sigma + 0.5) (scipy's radius)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """x: [B, 1, H, W] -> valid separable Gaussian filter, [B, 1, H - 2r, W - 2r]."""
    x = F.conv2d(x, taps.view(1, 1, -1, 1))
    return F.conv2d(x, taps.view(1, 1, 1, -1))


def ssim_per_frame(pred: np.ndarray, truth: np.ndarray, data_range: float = 255.0,
                   batch_frames: int = 256) -> np.ndarray:
    """pred, truth: [..., H, W, C] in [0, data_range] -> SSIM [...] (mean over pixels and channels), float64.

    H and W must be at least 11 (the window). ``batch_frames`` bounds memory.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    check_same_shape(pred, truth, "ssim")
    if not data_range > 0:
        raise ValueError(f"ssim: data_range must be > 0, got {data_range}")
    taps = gaussian_kernel_1d()
    h, w, c = pred.shape[-3:]
    if min(h, w) < len(taps):
        raise ValueError(f"ssim: frames of {h}x{w} px are smaller than the {len(taps)}-px window")
    lead = pred.shape[:-3]
    p = pred.reshape(-1, h, w, c)
    q = truth.reshape(-1, h, w, c)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    out = np.empty(len(p), np.float64)
    for start in range(0, len(p), batch_frames):
        x = torch.from_numpy(p[start:start + batch_frames].astype(np.float64)).permute(0, 3, 1, 2)
        y = torch.from_numpy(q[start:start + batch_frames].astype(np.float64)).permute(0, 3, 1, 2)
        b = x.shape[0]
        x, y = x.reshape(b * c, 1, h, w), y.reshape(b * c, 1, h, w)
        mu_x, mu_y = _blur(x, taps), _blur(y, taps)
        var_x = _blur(x * x, taps) - mu_x ** 2
        var_y = _blur(y * y, taps) - mu_y ** 2
        cov = _blur(x * y, taps) - mu_x * mu_y
        smap = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
        out[start:start + b] = smap.reshape(b, c, -1).mean(dim=(1, 2)).numpy()
    return out.reshape(lead)


def ssim_per_clip(pred: np.ndarray, truth: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """pred, truth: [N, T, H, W, C] -> mean over the T frames of per-frame SSIM, [N]."""
    return ssim_per_frame(pred, truth, data_range).mean(axis=-1)
