"""``sciffusion bench video``: copy-last, linear and trained video models side by side on one test store.

Every method sees the same first ``clips`` clips of ``data``: frames [0, context) in, frames
[context, context + horizon) predicted. The baselines (:mod:`sciffusion.domains.video.baselines`) give
one prediction (K = 1); each model file (``arch`` spacetime or concat) gives K = ``samples`` by the
rollout of ``video predict`` (same seed and batch size → the same frames). PSNR/SSIM per frame come
from :func:`~sciffusion.pipelines.video.evaluate.score_frames` with ``reduce="best"`` (best of K per
clip and metric, PSNR capped at 100 dB); FVD compares context + truth with context + sample 0 on the
first ``fvd_clips`` clips, the truth's I3D features computed once for all methods.

Cost per model: ``params`` (trainable parameters); ``train_step_s`` (median wall time of one
forward + backward + gradient clipping + AdamW step on a random batch of ``train_batch`` windows at the
model's training layout (T_past, T, T_future), fp32, after one warm-up step, on ``device``; EMA update
and data loading not included); ``sample_s_per_clip`` (wall time of the whole prediction / clips / K);
``peak_mem_mb`` (:class:`PeakMemory`, MiB, the larger of the training-step and sampling phases;
:data:`MEMORY_NOTE`). Before the first model, :func:`warm_up` runs it once untimed, so one-off set-up
costs land on no model.

Refuses a store whose attrs say ``split: train`` and a model that was trained on ``data`` (its meta).
Writes ``video_bench.csv``, ``per_frame.csv``, ``ssim_per_frame.png`` and ``config.json`` into ``out``
atomically.
"""
from __future__ import annotations

import copy
import gc
import math
import os
import resource
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

FIELDS = ["method", "arch", "params", "K", "clips", "psnr", "ssim", "fvd", "fvd_clips", "train_step_s",
          "sample_s_per_clip", "peak_mem_mb"]
FRAME_FIELDS = ["method", "frame", "psnr", "ssim"]
MEMORY_NOTE = ("MiB, the larger of two phases: training step (a copy of the network on the device, its gradients, "
               "AdamW state, activations) and sampling (moving the weights to the device, activations); "
               "cuda: torch.cuda.max_memory_allocated minus the allocation at the phase start (tensors only); "
               "cpu: peak resident set size (/proc/self/statm sampled every 5 ms) minus the RSS at the phase "
               "start (whole process; glibc's mmap threshold pinned at 128 KiB so freed tensors leave the RSS; "
               "the loaded weights already count before the sampling phase)")


@dataclass(frozen=True)
class VideoBenchConfig:
    """data: the held-out test store; models: (name, model file) pairs; ``context`` → ``horizon`` frames;
    ``samples`` K per clip for models (best of K); ``clips``: the first N clips (None: all); sampler and
    steps per block; ``seed`` of the sampling noise; ``fvd_clips`` (0: no FVD); ``batch_size``: clips per
    sampler call and per I3D forward pass; ``train_batch`` windows per timed training step, timed
    ``train_repeats`` times after one warm-up; ``device`` of the models."""

    data: Path
    models: tuple[tuple[str, Path], ...]
    out: Path
    context: int = 10
    horizon: int = 10
    samples: int = 1
    clips: Optional[int] = None
    sampler: str = "dpmpp_2m"
    steps: int = 10
    seed: int = 0
    fvd_clips: int = 0
    i3d_weights: Optional[Path] = None  # None: $SCIFFUSION_I3D_WEIGHTS or the shared default
    batch_size: int = 8
    train_batch: int = 8
    train_repeats: int = 3
    device: str = "cpu"
    overwrite: bool = False
    init_sigmas: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        from sciffusion.domains.video.baselines import METHODS
        from sciffusion.domains.video.metrics.fvd import MIN_FRAMES

        names = [name for name, _ in self.models]
        if not self.models:
            raise ValueError("--model: give at least one NAME=PATH")
        if any(not n for n in names) or len(set(names)) != len(names) or set(names) & set(METHODS):
            raise ValueError(f"--model: need distinct non-empty names other than {', '.join(METHODS)}, got "
                             f"{', '.join(names)}")
        for name, path in self.models:
            if not Path(path).is_file():
                raise FileNotFoundError(f"--model {name}={path}: no such model file")
        if self.context < 2:
            raise ValueError(f"--context: must be >= 2 (linear extrapolation uses two frames), got {self.context}")
        for option in ("horizon", "samples", "steps", "batch_size", "train_batch", "train_repeats"):
            if getattr(self, option) < 1:
                raise ValueError(f"--{option.replace('_', '-')}: must be >= 1, got {getattr(self, option)}")
        if self.clips is not None and self.clips < 1:
            raise ValueError(f"--clips: must be >= 1, got {self.clips}")
        _ = self.sampling  # checks --sampler
        for name, _sigma in self.init_sigmas:
            if name not in names:
                raise ValueError(f"--model: init_sigma given for {name!r}, which is not a model of this run")
            _ = self.sampling_for(name)  # checks the value
        if self.fvd_clips < 0 or self.fvd_clips == 1:
            raise ValueError(f"--fvd-clips: must be 0 (no FVD) or >= 2 (a covariance needs two clips), got "
                             f"{self.fvd_clips}")
        if self.fvd_clips and self.context + self.horizon < MIN_FRAMES:
            raise ValueError(f"--fvd-clips: I3D needs context + horizon >= {MIN_FRAMES} frames, got "
                             f"{self.context + self.horizon}")
        if self.fvd_clips and self.i3d_weights is not None and not Path(self.i3d_weights).is_file():
            raise FileNotFoundError(f"{self.i3d_weights}: I3D weights not found (--i3d-weights)")

    @property
    def sampling(self):
        from sciffusion.domains.video.sampling import SamplingConfig

        return SamplingConfig(sampler=self.sampler, steps=self.steps)

    def sampling_for(self, name: str):
        """The sampling of model ``name``: :attr:`sampling` with its warm start (``init_sigmas``; 0 = none), if any."""
        import dataclasses

        init = dict(self.init_sigmas).get(name)
        return self.sampling if not init else dataclasses.replace(self.sampling, init_sigma=init)

    def with_recommended_warm_starts(self, recommended: dict[str, Optional[float]]) -> "VideoBenchConfig":
        """This config with the warm start each model file recommends (``recommended``: name → its
        ``meta["predict"]["init_sigma"]`` or None) for every model the command line gave none
        (``@init-sigma=S``; an explicit 0 stays cold), so ``bench video`` samples a model as ``video predict``
        does without options."""
        import dataclasses

        given = dict(self.init_sigmas)
        taken = tuple((name, sigma) for name, sigma in recommended.items() if name not in given and sigma)
        return dataclasses.replace(self, init_sigmas=self.init_sigmas + taken)


class PeakMemory:
    """Peak memory increase over a ``with`` block, in MiB (``.mib`` after exit); see :data:`MEMORY_NOTE`.
    On CPU without /proc the increase of ``ru_maxrss`` is used (a lower bound: 0 when an earlier phase of
    the process already went higher)."""

    def __init__(self, device) -> None:
        self.device, self.mib = device, float("nan")

    def __enter__(self) -> "PeakMemory":
        import torch

        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        self._start = self._peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, _rss_bytes())
        self.mib = max(peak - self._start, 0) / 2**20


def _rss_bytes() -> int:
    """Resident set size now (Linux /proc), else the process's ru_maxrss high-water mark, bytes."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024


def keep_mmap_threshold() -> None:
    """glibc only: pin the mmap threshold at its 128 KiB default (mallopt M_MMAP_THRESHOLD = -3), which
    otherwise rises up to 32 MiB as big blocks are freed; blocks above it are then always returned to the
    OS when freed, so RSS follows live tensors and a model's peak does not depend on the models before
    it. Changes malloc for the rest of the process; a no-op without glibc."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: RSS is measured as it is
        return


def warm_up(model, truth: np.ndarray, cfg: VideoBenchConfig, device) -> None:
    """Two untimed training steps and one predicted clip of ``model``: one-off set-up (autograd, oneDNN or
    cuDNN, the CUDA context, malloc arenas) is then charged to no model's time or memory."""
    import dataclasses

    once = dataclasses.replace(cfg, train_repeats=1, samples=1)
    train_step_seconds(model, once, device)
    model.net.to(device)
    predict_clips(model, truth[:1, : cfg.context], once)


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step_seconds(model, cfg: VideoBenchConfig, device) -> tuple[float, float]:
    """(median seconds per training step, peak MiB) of a copy of ``model``'s network at its training
    layout: x0 [train_batch, C, T, H, W], past/future blocks visible, event 0 (module docstring)."""
    import torch

    from sciffusion.common.training.losses import Preconditioning
    from sciffusion.domains.video.networks.condition import VideoCondition

    m, t, b = model.config, model.train, cfg.train_batch
    g = torch.Generator().manual_seed(cfg.seed)

    def frames(n: int):
        return (torch.rand((b, m.channels, n, m.size, m.size), generator=g) * 2 - 1).to(device) if n else None

    x0, past, future = frames(m.frames), frames(m.past_frames), frames(m.future_frames)
    ones = torch.ones(b, device=device)
    cond = VideoCondition(past=past, future=future, past_mask=ones if m.past_frames else None,
                          future_mask=ones if m.future_frames else None,
                          event=torch.zeros(b, dtype=torch.long, device=device) if m.events else None)
    sigma, noise = t.sigma.sample(b, g).to(device), torch.randn(x0.shape, generator=g).to(device)
    precond = Preconditioning(t.loss, t.sigma_data)
    with PeakMemory(device) as mem:
        net = copy.deepcopy(model.net).to(device).train()
        opt = torch.optim.AdamW(net.parameters(), lr=t.lr, weight_decay=t.weight_decay, betas=t.betas)
        times = []
        for _ in range(1 + cfg.train_repeats):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            precond.loss(net, x0, sigma, noise, cond).mean().backward()
            if t.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), t.grad_clip)
            opt.step()
            _synchronize(device)
            times.append(time.perf_counter() - start)
        del net, opt
    return statistics.median(times[1:]), mem.mib


def predict_clips(model, context: np.ndarray, cfg: VideoBenchConfig,
                  progress: Optional[Callable[[int], None]] = None, name: Optional[str] = None) -> np.ndarray:
    """context uint8 [N, T_ctx, H, W, C] → prediction uint8 [N, K, horizon, H, W, C], exactly as
    ``video predict`` draws it (:func:`sciffusion.pipelines.video.predict.predict_clips`)."""
    from sciffusion.pipelines.video.predict import predict_clips as predict_store_clips

    sampling = cfg.sampling if name is None else cfg.sampling_for(name)
    return predict_store_clips(model, context, cfg.horizon, cfg.samples, sampling, cfg.seed, cfg.batch_size,
                               clip_progress=progress)


def check_model(name: str, path: Path, model, store, cfg: VideoBenchConfig) -> None:
    """One-line ValueErrors: frames differ from the store's, too little context, trained on ``data``."""
    m = model.config
    h, w, c = (int(v) for v in store.video.shape[2:])
    if (h, w, c) != (m.size, m.size, m.channels):
        raise ValueError(f"--model {name}={path}: the model takes {m.size}x{m.size}x{m.channels} frames, "
                         f"{cfg.data} holds {h}x{w}x{c}")
    if cfg.context < m.past_frames:
        raise ValueError(f"--context: {cfg.context} frames, model {name} conditions on {m.past_frames}")
    from sciffusion.domains.video.zarr_store import video_fingerprint

    trained_on = (model.meta.get("data") or {}).get("train")
    if trained_on and Path(trained_on).resolve() == Path(cfg.data).resolve():
        raise ValueError(f"--model {name}={path}: was trained on {cfg.data}; benchmark it on held-out clips")
    seen = {k: v for k, v in (model.meta.get("data_fingerprints") or {}).items() if v}
    role = next((k for k, v in seen.items() if v == video_fingerprint(store)), None)
    if role is not None:  # the same clips under another path or name
        what = "trained" if role == "train" else "validated"
        raise ValueError(f"--model {name}={path}: was {what} on these clips ({cfg.data} holds the same clips as its "
                         f"{role} store, {(model.meta.get('data') or {}).get(role)}); benchmark it on held-out clips")


def open_test_store(cfg: VideoBenchConfig, log: Callable[[str], None]):
    """The data store, checked: not a training split, long enough clips."""
    from sciffusion.domains.video.zarr_store import open_video_store

    store = open_video_store(cfg.data, kind="dataset")
    split = store.attrs.get("split")
    if split == "train":
        raise ValueError(f"{cfg.data}: a training-split store (attr split = 'train'); benchmark on held-out "
                         "clips (e.g. 'video make-smmnist --split test')")
    if split is None:
        log(f"{cfg.data}: no 'split' attr; make sure no model was trained on these clips")
    t = int(store.video.shape[1])
    if t < cfg.context + cfg.horizon:
        raise ValueError(f"{cfg.data}: {t} frames per clip, need context + horizon = {cfg.context + cfg.horizon}")
    return store


def score_method(method: str, prediction: np.ndarray, truth: np.ndarray, cfg: VideoBenchConfig,
                 fvd: Optional[Callable[[np.ndarray], float]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """prediction uint8 [N, K, horizon, H, W, C] against truth [N, context + horizon, H, W, C]: the
    scores of a summary row and one row per predicted frame (1-based, counting the context)."""
    from sciffusion.pipelines.video.evaluate import score_frames

    c = cfg.context
    scores = score_frames(prediction, truth[:, c:], reduce="best")
    n_fvd = min(cfg.fvd_clips, len(truth)) if fvd is not None else 0
    fvd_value = fvd(np.concatenate([truth[:n_fvd, :c], prediction[:n_fvd, 0]], axis=1)) if n_fvd else float("nan")
    row = {"method": method, "K": int(prediction.shape[1]), "clips": len(truth), "psnr": float(scores.psnr.mean()),
           "ssim": float(scores.ssim.mean()), "fvd": fvd_value, "fvd_clips": n_fvd}
    frames = [{"method": method, "frame": c + 1 + k, "psnr": float(p), "ssim": float(s)}
              for k, (p, s) in enumerate(zip(scores.psnr.mean(axis=0), scores.ssim.mean(axis=0)))]
    return row, frames


def _fvd_scorer(truth: np.ndarray, cfg: VideoBenchConfig) -> Callable[[np.ndarray], float]:
    """FVD of fake clips against the first ``fvd_clips`` true clips, whose I3D features are computed once."""
    from sciffusion.domains.video.metrics.fvd import extract_features, fvd_from_features
    from sciffusion.domains.video.metrics.i3d import load_i3d

    if min(cfg.fvd_clips, len(truth)) < 2:
        raise ValueError(f"--fvd-clips: FVD needs at least 2 clips, {cfg.data} gives {len(truth)}")
    i3d = load_i3d(cfg.i3d_weights)
    real = extract_features(i3d, truth[: cfg.fvd_clips], batch_size=cfg.batch_size)
    return lambda fake: fvd_from_features(real, extract_features(i3d, fake, batch_size=cfg.batch_size))


def run_video_bench(cfg: VideoBenchConfig, log: Callable[[str], None] = print,
                    progress: bool = False) -> list[dict[str, Any]]:
    """Run every method on the same clips, write the files into ``cfg.out`` atomically (an existing
    folder only with ``cfg.overwrite``; every input is checked before any work); return the rows.
    ``progress``: log a line after each batch of clips of a model."""
    from sciffusion.common.devices import device_of
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.domains.video.baselines import METHODS, predict
    from sciffusion.domains.video.model import read_model_file
    from sciffusion.domains.video.sampling import recommended_prediction

    refuse_existing(Path(cfg.out), cfg.overwrite)
    device = device_of(cfg.device)
    store = open_test_store(cfg, log)
    meta, models, recommended = {}, [], {}
    for name, path in cfg.models:
        models.append(read_model_file(path))
        check_model(name, Path(path), models[-1], store, cfg)
        meta[name] = {"path": str(path), "arch": models[-1].config.arch, "step": models[-1].meta.get("step"),
                      "model": models[-1].config.to_dict()}
        recommended[name] = recommended_prediction(models[-1].meta, f"--model {name}={path}: meta 'predict'"
                                                   ).get("init_sigma")
    given = dict(cfg.init_sigmas)
    cfg = cfg.with_recommended_warm_starts(recommended)
    for name, sigma in recommended.items():
        if sigma and name not in given:
            log(f"note: {name}: warm start {sigma:g} from its model file (the setting video predict takes; "
                f"{name}=PATH@init-sigma=0 for none)")
    n = store.num_clips if cfg.clips is None else min(cfg.clips, store.num_clips)
    truth = store.video[:n, : cfg.context + cfg.horizon]
    fvd = _fvd_scorer(truth, cfg) if cfg.fvd_clips else None
    rows, frame_rows = [], []

    def add(row: dict, frames: list[dict]) -> None:
        rows.append(row)
        frame_rows.extend(frames)
        fvd_text = "" if math.isnan(row["fvd"]) else f"  FVD {row['fvd']:.1f}"
        log(f"{row['method']:12s} K={row['K']}  PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.4f}{fvd_text}  "
            f"{row['sample_s_per_clip']:.3g} s/clip")

    for method in METHODS:
        start = time.perf_counter()
        prediction = predict(truth[:, : cfg.context], cfg.horizon, method)[:, None]
        seconds = (time.perf_counter() - start) / n
        row, frames = score_method(method, prediction, truth, cfg, fvd)
        add({**row, "arch": "baseline", "params": 0, "train_step_s": float("nan"), "sample_s_per_clip": seconds,
             "peak_mem_mb": float("nan")}, frames)
    if device.type == "cpu":
        keep_mmap_threshold()
    warm_up(models[0], truth, cfg, device)
    del models
    for name, path in cfg.models:
        add(*_model_row(name, Path(path), truth, cfg, device, fvd, log if progress else None))
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        _write_files(tmp, cfg, rows, frame_rows, meta, dict(store.attrs).get("split"))
    return rows


def _model_row(name: str, path: Path, truth: np.ndarray, cfg: VideoBenchConfig, device,
               fvd: Optional[Callable[[np.ndarray], float]], log: Optional[Callable[[str], None]]
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One model file: its training-step cost, then its K predictions of every clip, timed and scored."""
    from sciffusion.common.networks.blocks import count_parameters
    from sciffusion.domains.video.model import read_model_file

    model = read_model_file(path)
    train_s, train_mib = train_step_seconds(model, cfg, device)
    n, done, start = len(truth), [0], time.perf_counter()

    def progress(clips: int) -> None:
        done[0] += clips
        log(f"  {name}: {done[0]}/{n} clips, {time.perf_counter() - start:.0f} s")

    with PeakMemory(device) as mem:
        model.net.to(device)
        start = time.perf_counter()
        prediction = predict_clips(model, truth[:, : cfg.context], cfg, progress if log is not None else None, name)
        seconds = (time.perf_counter() - start) / n / cfg.samples
    row, frames = score_method(name, prediction, truth, cfg, fvd)
    return {**row, "arch": model.config.arch, "params": count_parameters(model.net), "train_step_s": train_s,
            "sample_s_per_clip": seconds, "peak_mem_mb": max(train_mib, mem.mib)}, frames


def _write_files(folder: Path, cfg: VideoBenchConfig, rows: list[dict], frame_rows: list[dict], meta: dict,
                 split: Optional[str]) -> None:
    import json

    from sciffusion.pipelines.bench.video_baselines import _write_csv
    from sciffusion.pipelines.video.evaluate import plot_ssim_per_frame

    _write_csv(folder / "video_bench.csv", FIELDS, rows)
    _write_csv(folder / "per_frame.csv", FRAME_FIELDS, frame_rows)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    config["models"] = [[name, str(path)] for name, path in cfg.models]
    config["init_sigmas"] = {name: cfg.sampling_for(name).init_sigma for name, _ in cfg.models}  # None: cold
    config.update(command="sciffusion bench video", store_split=split, model_files=meta, memory=MEMORY_NOTE,
                  train_step="median of train_repeats fp32 forward + backward + grad clip + AdamW steps after one "
                             "warm-up, batch train_batch at the model's training layout; no EMA, no data loading")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    curves = {m: np.array([f["ssim"] for f in frame_rows if f["method"] == m]) for m in dict.fromkeys(
        r["method"] for r in rows)}
    plot_ssim_per_frame(folder / "ssim_per_frame.png", curves, cfg.context)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of the summary rows (blank FVD / cost where not measured); K = samples per clip."""
    def num(value: float, spec: str) -> str:
        return "" if math.isnan(value) else format(value, spec)

    width = max([14] + [len(str(r["method"])) + 2 for r in rows])
    lines = [f"{'method':<{width}}{'arch':<10}{'params':>10}{'K':>4}{'clips':>6}{'PSNR dB':>9}{'SSIM':>8}{'FVD':>9}"
             f"{'train s/step':>13}{'sample s/clip':>14}{'peak MiB':>10}"]
    for r in rows:
        lines.append(f"{r['method']:<{width}}{r['arch']:<10}{r['params']:>10,}{r['K']:>4}{r['clips']:>6}{r['psnr']:>9.2f}"
                     f"{r['ssim']:>8.4f}{num(r['fvd'], '.1f'):>9}{num(r['train_step_s'], '.3g'):>13}"
                     f"{num(r['sample_s_per_clip'], '.3g'):>14}{num(r['peak_mem_mb'], '.1f'):>10}")
    return "\n".join(lines)


__all__ = ["FIELDS", "MEMORY_NOTE", "PeakMemory", "VideoBenchConfig", "format_table", "predict_clips",
           "run_video_bench", "score_method", "train_step_seconds"]
