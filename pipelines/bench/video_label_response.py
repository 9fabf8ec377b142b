"""``sciffusion bench video-label-response``: does an event model listen to its event label?

Rare-event fidelity (``bench video-events``) says whether generated clips show their event; this says
why not, from the model alone, in seconds: how much of the model's denoising error on real event
windows its event label removes, per noise level σ.

Protocol (``docs/video.md``, "Label response"):

- Windows of a labelled ``make-driving`` store that no model was trained on: for each event E, up to
  ``windows`` clips whose event (:func:`~sciffusion.domains.video.events.window_event` over the clip) is
  E, each at its first start whose generated block holds the event
  (:func:`~sciffusion.domains.video.datamodule.event_starts`, as training draws them); ``normal``
  windows from event-free clips at frame 0.
- For each window and σ: one noise draw ε (seeded), x = x0 + σ ε for the current block x0, denoised
  three times with the same x: label E, label ``normal`` and the null label (−1, what classifier-free
  guidance's unconditional branch sees); past block visible, and again masked (generation's first
  block).
- Error: mean squared error of the denoised block against x0 over the pixels that change (any channel
  of x0 more than 0.1 from the last past frame, where vehicles move) and over all pixels.
- ``gain_vs_null`` = 1 − err(E) / err(null): the share of the error the label removes; ``gain_vs_normal``
  the same against the ``normal`` label. A model that ignores its label scores 0 (the test's negative
  control: a model whose event embedding is zero).

- **The model read as a classifier** (``self_classification.csv``): on the same windows, past visible, the
  event whose label gives the highest denoising ELBO of the current block
  (:func:`~sciffusion.domains.video.sampling.event_log_likelihoods` over ``sigmas``, one seeded draw per
  level shared by the four labels): a model that knows what its labels mean picks a window's own event
  (``recall``); one that ignores them picks the same class for every window (a zero embedding: ``normal``,
  the first of equal scores).

Writes ``label_response.csv``, ``self_classification.csv``, ``label_response.png`` and ``config.json`` into
``out`` atomically.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from sciffusion.domains.video.events import EVENTS
from sciffusion.domains.video.frames import CHANGE_THRESHOLD, changing_pixels

SELF_FIELDS = ["model", "event", "windows", "recall"] + [f"pred_{e}" for e in EVENTS]
FIELDS = ["model", "event", "sigma", "past", "windows", "changed_pixels", "mse_label", "mse_null", "mse_normal",
          "gain_vs_null", "gain_vs_normal", "mse_all_label", "mse_all_null", "gain_all_vs_null"]


@dataclass(frozen=True)
class LabelResponseConfig:
    """models: (name, model file) pairs; data: labelled driving store none of them trained on; sigmas:
    noise levels (σ, data in [-1, 1]); windows: per event, at most; batch_size: windows per call."""

    models: tuple[tuple[str, Path], ...]
    data: Path
    out: Path
    sigmas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    windows: int = 32
    seed: int = 0
    batch_size: int = 16
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("--model: need at least one NAME=PATH")
        if not self.sigmas or any(not 0 < s < float("inf") for s in self.sigmas):
            raise ValueError(f"--sigmas: need noise levels > 0, got {list(self.sigmas)}")
        if self.windows < 1:
            raise ValueError(f"--windows: must be >= 1, got {self.windows}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size: must be >= 1, got {self.batch_size}")


def event_windows(path: Path, num_clips: int, past_frames: int, frames: int,
                  per_event: int) -> dict[int, list[tuple[int, int]]]:
    """event index -> up to ``per_event`` (clip, start) pairs among the first ``num_clips`` clips of store
    ``path`` (module docstring)."""
    from sciffusion.domains.video.datamodule import clip_events, event_starts

    clips = list(range(num_clips))
    events = clip_events(path, clips)
    starts = event_starts(path, clips, past_frames, frames, past_frames + frames)
    out: dict[int, list[tuple[int, int]]] = {e: [] for e in range(len(EVENTS))}
    for clip, event, options in zip(clips, events, starts):
        if len(out[event]) < per_event and (event == 0 or options):
            out[event].append((clip, options[0] if options else 0))
    return out


def _check(name: str, path: Path, model, store, cfg: LabelResponseConfig) -> None:
    m = model.config
    if not m.events:
        raise ValueError(f"--model {name}={path}: trained without event labels; nothing to respond to")
    h, w, c = (int(v) for v in store.video.shape[2:])
    if (h, w, c) != (m.size, m.size, m.channels):
        raise ValueError(f"--model {name}={path}: the model takes {m.size}x{m.size}x{m.channels} frames, "
                         f"{cfg.data} holds {h}x{w}x{c}")
    if int(store.video.shape[1]) < m.past_frames + m.frames:
        raise ValueError(f"{cfg.data}: {store.video.shape[1]} frames per clip, model {name} needs "
                         f"{m.past_frames + m.frames}")
    trained_on = (model.meta.get("data") or {}).get("train")
    if trained_on and Path(trained_on).resolve() == Path(cfg.data).resolve():
        raise ValueError(f"--model {name}={path}: was trained on {cfg.data}; measure it on held-out clips")


@torch.no_grad()
def respond(model, clips: torch.Tensor, event: int, sigmas: tuple[float, ...], seed: int,
            batch_size: int) -> list[dict[str, Any]]:
    """Rows (one per σ and past visible/masked) for windows ``clips`` [B, C, T_past + T, H, W] in
    [-1, 1] of event index ``event`` (module docstring)."""
    from sciffusion.common.training.losses import Preconditioning
    from sciffusion.domains.video.networks.condition import VideoCondition

    cfg = model.config
    precond = Preconditioning(model.train.loss, model.train.sigma_data)
    past, x0 = clips[:, :, :cfg.past_frames], clips[:, :, cfg.past_frames:cfg.past_frames + cfg.frames]
    last = past[:, :, -1:] if cfg.past_frames else x0[:, :, :1]
    changed = changing_pixels(x0, last).expand_as(x0)
    rows = []
    for si, sigma in enumerate(sigmas):
        g = torch.Generator().manual_seed(seed * 1000 + si)
        noise = torch.randn(x0.shape, generator=g)
        for visible in ((True, False) if cfg.past_frames else (False,)):
            sq = {label: [] for label in ("label", "null", "normal")}
            for lo in range(0, len(x0), batch_size):
                xb, pb = x0[lo:lo + batch_size], past[lo:lo + batch_size]
                b = len(xb)
                x = xb + sigma * noise[lo:lo + batch_size]
                s = torch.full((b,), float(sigma))
                for label, index in (("label", event), ("null", -1), ("normal", 0)):
                    cond = VideoCondition(past=pb if cfg.past_frames else None,
                                          past_mask=(torch.ones(b) if visible else torch.zeros(b))
                                          if cfg.past_frames else None,
                                          event=torch.full((b,), index, dtype=torch.long))
                    sq[label].append((precond.denoise(model.net, x, s, cond) - xb) ** 2)
            err = {k: torch.cat(v) for k, v in sq.items()}
            n_changed = int(changed.sum())
            on = {k: float(v[changed].mean()) if n_changed else float("nan") for k, v in err.items()}
            whole = {k: float(v.mean()) for k, v in err.items()}
            rows.append({"event": EVENTS[event], "sigma": float(sigma), "past": "visible" if visible else "masked",
                         "windows": len(x0), "changed_pixels": round(n_changed / changed.numel(), 5),
                         "mse_label": on["label"], "mse_null": on["null"], "mse_normal": on["normal"],
                         "gain_vs_null": 1 - on["label"] / on["null"], "gain_vs_normal": 1 - on["label"] / on["normal"],
                         "mse_all_label": whole["label"], "mse_all_null": whole["null"],
                         "gain_all_vs_null": 1 - whole["label"] / whole["null"]})
    return rows


def self_classification(model, clips: torch.Tensor, event: int, sigmas: tuple[float, ...], seed: int,
                        batch_size: int) -> dict[str, Any]:
    """The share of windows ``clips`` [B, C, T_past + T, H, W] ([-1, 1]) of event index ``event`` that the
    model's own ELBO posterior assigns to each event, past visible (module docstring)."""
    from sciffusion.domains.video.sampling import event_log_likelihoods

    m = model.config
    generator = torch.Generator().manual_seed(seed)
    levels = torch.tensor(sorted(sigmas))
    picked = torch.cat([event_log_likelihoods(model, clips[lo:lo + batch_size], [m.past_frames], levels,
                                              generator=generator).argmax(1)
                        for lo in range(0, len(clips), batch_size)])
    share = np.bincount(picked.numpy(), minlength=len(EVENTS)) / len(picked)
    return {"event": EVENTS[event], "windows": len(picked), "recall": float(share[event]),
            **{f"pred_{e}": float(v) for e, v in zip(EVENTS, share)}}


def run_label_response(cfg: LabelResponseConfig, log: Callable[[str], None] = print,
                       progress: Optional[Callable[[int], None]] = None) -> list[dict[str, Any]]:
    """Every model on the same windows (module docstring); writes the files; returns the rows.
    ``progress(n)``: n (model, event) pairs done."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.domains.video.frames import to_unit_range
    from sciffusion.domains.video.model import read_model_file
    from sciffusion.domains.video.zarr_store import open_video_store

    refuse_existing(cfg.out, cfg.overwrite, "output folder")
    store = open_video_store(cfg.data, kind="dataset")
    if not any(name in store.labels for name in EVENTS[1:]):
        raise ValueError(f"{cfg.data}: no event labels ({', '.join(EVENTS[1:])}); use a 'video make-driving' store")
    models = [(name, path, read_model_file(path)) for name, path in cfg.models]
    for name, path, model in models:
        _check(name, path, model, store, cfg)
    rows, self_rows, meta = [], [], {}
    for name, path, model in models:
        m = model.config
        meta[name] = {"path": str(path), "step": model.meta.get("step"), "past_frames": m.past_frames,
                      "frames": m.frames}
        for event, pairs in event_windows(cfg.data, store.num_clips, m.past_frames, m.frames, cfg.windows).items():
            if not pairs:
                log(f"{cfg.data}: no clip of event {EVENTS[event]}; skipped")
                continue
            clips = torch.stack([to_unit_range(torch.from_numpy(np.asarray(
                store.video[c, s:s + m.past_frames + m.frames]))) for c, s in pairs])  # [B, C, L, H, W]
            rows += [{"model": name, **r} for r in respond(model, clips, event, cfg.sigmas, cfg.seed, cfg.batch_size)]
            read = {"model": name, **self_classification(model, clips, event, cfg.sigmas, cfg.seed, cfg.batch_size)}
            self_rows.append(read)
            log(f"{name}: the model as a classifier of {read['windows']} {read['event']} windows: "
                + ", ".join(f"{e} {read[f'pred_{e}']:.2f}" for e in EVENTS))
            if progress is not None:
                progress(1)
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        with open(tmp / "label_response.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        with open(tmp / "self_classification.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=SELF_FIELDS)
            writer.writeheader()
            writer.writerows(self_rows)
        _plot(rows, tmp / "label_response.png")
        config = {**asdict(cfg), "command": "sciffusion bench video-label-response", "model_files": meta,
                  "change_threshold": CHANGE_THRESHOLD, "protocol": __doc__.split("Protocol", 1)[1].split("Writes")[0]}
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    return rows


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [e for e in EVENTS if any(r["event"] == e for r in rows)]
    fig, axes = plt.subplots(1, len(events), figsize=(3.6 * len(events), 3.2), squeeze=False, sharey=True)
    for ax, event in zip(axes[0], events):
        for model in dict.fromkeys(r["model"] for r in rows):
            for past, style in (("visible", "-"), ("masked", "--")):
                pts = [(r["sigma"], r["gain_vs_null"]) for r in rows
                       if r["model"] == model and r["event"] == event and r["past"] == past]
                if pts:
                    ax.plot(*zip(*pts), style, marker="o", label=f"{model}, past {past}")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(event)
        ax.set_xlabel("σ")
    axes[0][0].set_ylabel("1 − err(label) / err(null)\non changing pixels")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (gains in %)."""
    head = "| model | event | σ | past | windows | gain vs null (%) | gain vs normal (%) | all pixels vs null (%) |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['event']} | {r['sigma']:g} | {r['past']} | {r['windows']} | "
                     f"{100 * r['gain_vs_null']:+.1f} | {100 * r['gain_vs_normal']:+.1f} | "
                     f"{100 * r['gain_all_vs_null']:+.1f} |")
    return "\n".join(lines)


__all__ = ["CHANGE_THRESHOLD", "FIELDS", "LabelResponseConfig", "SELF_FIELDS", "event_windows", "format_table",
           "respond", "run_label_response", "self_classification"]
