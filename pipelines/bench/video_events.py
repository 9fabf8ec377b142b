"""``sciffusion bench video-events``: rare-event fidelity of generated driving clips, judged by an
independent event classifier trained here, not by the video model.

Protocol (``docs/video.md``, "Rare-event fidelity"):

- Windows of ``frames`` (T) frames of a labelled ``make-driving`` store, starting every ``stride``
  frames (plus the last start), labelled with :func:`~sciffusion.domains.video.events.window_event`
  (``ego_collision`` > ``cut_in`` > ``near_miss`` on any frame of the window, else ``normal``).
- A small 3-D conv net (:class:`~sciffusion.pipelines.bench.event_classifier.EventClassifier`) trained with cross-entropy on windows drawn with
  weights 1 / (windows of their class), because events are rare; seeded.
- Held-out evaluation on windows of a second store (other episodes): accuracy, balanced accuracy,
  per-class recall, confusion matrix.
- Fidelity of a generated store (``clips.zarr`` of ``sciffusion video generate --event E``): the
  fraction of its clips asked for event E (``labels/event``) whose first T frames the classifier
  assigns to E, with the whole predicted-class distribution.
- Pixel rules (:mod:`sciffusion.domains.video.event_rules`, collisions and cut-ins): the same fraction
  judged by the simulator's event definition read off the frames, with no learned weights, so a model
  steered by a classifier's gradient (``generate --guide``) cannot fool it; each rule's recall on the
  held-out windows of its event and its false-alarm rate on held-out normal windows say how far to trust it.
  Every rule is also read on every generated store (``rule_<event>``): on clips asked to be normal, that is
  the rule's false-alarm rate on *generated* footage, to set beside the held-out one.
- Temporal coherence (:func:`~sciffusion.domains.video.event_rules.pop_ins_per_frame`): vehicles that appear
  inside the view from one frame to the next, per frame, for each generated store and for the held-out normal
  windows (``real_pop_ins_per_frame``; simulated traffic only enters across the borders).

Writes ``classifier.pt``, ``classifier_eval.json``, ``confusion.png``, ``fidelity.csv``,
``fidelity.png`` and ``config.json`` into ``out`` atomically.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor

from sciffusion.domains.video.event_rules import EVENT_RULES
from sciffusion.domains.video.events import EVENTS
from sciffusion.domains.video.frames import to_unit_range
from sciffusion.pipelines.bench.event_classifier import (  # noqa: F401 (re-exported)
    CHECKPOINT_KIND, EventClassifier, EventClassifierConfig, Windows, evaluate_classifier, load_event_classifier,
    load_windows, predict_events, train_classifier, window_starts)

PRED_FIELDS = [f"pred_{name}" for name in EVENTS]
RULE_FIELDS = [f"rule_{name}" for name in EVENT_RULES]  # every rule's firing rate on the row's clips
REAL_RULE_FIELDS = [f"real_rule_{name}" for name in EVENT_RULES]  # ... on the held-out normal windows
FIELDS = ["store", "event", "clips", "fidelity", *PRED_FIELDS, "classifier_recall", "train_windows",
          "classifier_accuracy", "classifier_balanced_accuracy", "rule_fidelity", "rule_recall", "rule_false_alarm",
          *RULE_FIELDS, "pop_ins_per_frame", *REAL_RULE_FIELDS, "real_pop_ins_per_frame"]
RULE_NORMAL_WINDOWS = 1000  # held-out normal windows (evenly spaced) the rules' false-alarm rate is read on


@dataclass(frozen=True)
class VideoEventsConfig:
    """train / test: labelled make-driving stores (different episodes); generated: ``clips.zarr``
    stores (or folders holding one) with ``labels/event``; out: output folder. classifier_path: a
    ``classifier.pt`` of an earlier run to judge with instead of training one (it must have been trained
    on ``train``, with ``classifier.frames``), so several models are judged by the same classifier."""

    train: Path
    test: Path
    generated: tuple[Path, ...]
    out: Path
    classifier: EventClassifierConfig = field(default_factory=EventClassifierConfig)
    overwrite: bool = False
    classifier_path: Optional[Path] = None

    def __post_init__(self) -> None:
        if not self.generated:
            raise ValueError("--generated: need at least one generated store")
        if len({Path(p).resolve() for p in self.generated}) != len(self.generated):
            raise ValueError(f"--generated: a store is listed twice: {', '.join(map(str, self.generated))}")
        if Path(self.train).resolve() == Path(self.test).resolve():
            raise ValueError(f"--test: {self.test} is the training store; evaluate on other episodes")


def generated_store_path(path: Path) -> Path:
    """A generated ``clips.zarr`` or the ``sciffusion video generate`` folder that holds one."""
    path = Path(path)
    return path / "clips.zarr" if (path / "clips.zarr").is_dir() else path


def open_generated(path: Path, frames: int, frame_shape: tuple[int, ...]):
    """Open a generated store and check it against the classifier: ``labels/event`` int [N] in EVENTS,
    frames ``frame_shape`` [H, W, C], at least ``frames`` frames per clip."""
    from sciffusion.domains.video.zarr_store import open_video_store

    path = generated_store_path(path)
    store = open_video_store(path, kind="dataset")
    if "event" not in store.labels:
        raise ValueError(f"{path}: no labels/event (generate the clips with sciffusion video generate --event E)")
    events = np.asarray(store.labels["event"][...])
    if events.ndim != 1 or events.dtype.kind not in "iu" or events.min() < 0 or events.max() >= len(EVENTS):
        raise ValueError(f"{path}: labels/event must be integers [N] in 0..{len(EVENTS) - 1} (index into "
                         f"{', '.join(EVENTS)}), got {events.dtype} {events.shape}")
    if tuple(store.video.shape[2:]) != tuple(frame_shape):
        raise ValueError(f"{path}: frames {tuple(store.video.shape[2:])} [H, W, C] != {tuple(frame_shape)} of the "
                         f"classifier's training store")
    if store.video.shape[1] < frames:
        raise ValueError(f"{path}: {store.video.shape[1]} frames per clip, need at least {frames} (--frames)")
    return store, events.astype(np.int64)


def rare_event_fidelity(classifier: Callable[[Tensor], Tensor], generated: Path, frames: int,
                        frame_shape: tuple[int, ...], batch_size: int = 64) -> list[dict[str, Any]]:
    """One row per event asked for in ``generated`` (``labels/event``): its clips, the fraction of them
    whose first ``frames`` frames the classifier assigns to that event (``fidelity``), the fraction
    assigned to each class (``pred_<event>``, summing to 1); on colour renderings also the fraction in which
    each pixel rule fires (``rule_<event>``; ``rule_fidelity`` is the asked event's, None without a rule) and
    the vehicles popping into view per frame (``pop_ins_per_frame``); None on other frames."""
    from sciffusion.domains.video.event_rules import pop_ins_per_frame, rule_rate, rules_apply

    store, events = open_generated(generated, frames, frame_shape)
    batches = (to_unit_range(torch.from_numpy(np.asarray(store.video[i:i + batch_size, :frames])))
               for i in range(0, len(events), batch_size))
    pred = predict_events(classifier, batches)
    readable = rules_apply(store.video.shape)
    rows = []
    for k in np.unique(events):
        share = np.bincount(pred[events == k], minlength=len(EVENTS)) / (events == k).sum()
        clips = [np.asarray(store.video[i, :frames]) for i in np.flatnonzero(events == k)] if readable else []
        rules = {f"rule_{name}": rule_rate(clips, name) if readable else None for name in EVENT_RULES}
        rows.append({"store": str(store.path), "event": EVENTS[k], "clips": int((events == k).sum()),
                     "fidelity": float(share[k]), **{f: float(s) for f, s in zip(PRED_FIELDS, share)},
                     "rule_fidelity": rules.get(f"rule_{EVENTS[k]}"), **rules,
                     "pop_ins_per_frame": pop_ins_per_frame(clips) if readable and frames > 1 else None})
    return rows


def rule_scores(test: Windows) -> dict[str, dict[str, Any]]:
    """Each pixel rule read on the held-out windows: ``recall`` (windows of its event where it fires, None
    without any) and ``false_alarm`` (of up to :data:`RULE_NORMAL_WINDOWS` evenly spaced normal windows);
    under ``"pop_ins"`` the vehicles popping into view per frame of the same normal windows (``per_frame``)."""
    from sciffusion.domains.video.event_rules import pop_ins_per_frame, rule_rate, rules_apply

    def clips(index):
        return (test.video[test.clip[i], test.start[i]:test.start[i] + test.frames] for i in index)

    out: dict[str, dict[str, Any]] = {}
    if not rules_apply(test.video.shape):
        return out
    normal = np.flatnonzero(test.event == 0)
    normal = normal[np.linspace(0, len(normal) - 1, min(len(normal), RULE_NORMAL_WINDOWS)).astype(int)] \
        if len(normal) else normal
    for name in EVENT_RULES:
        own = np.flatnonzero(test.event == EVENTS.index(name))
        out[name] = {"recall": rule_rate(clips(own), name) if len(own) else None,
                     "false_alarm": rule_rate(clips(normal), name) if len(normal) else None,
                     "windows": int(len(own)), "normal_windows": int(len(normal))}
    if len(normal) and test.frames > 1:
        out["pop_ins"] = {"per_frame": pop_ins_per_frame(clips(normal)), "normal_windows": int(len(normal))}
    return out


def _check_held_out(train: Windows, test: Windows) -> None:
    if train.video.shape[2:] != test.video.shape[2:]:
        raise ValueError(f"{test.path}: frames {test.video.shape[2:]} [H, W, C] != {train.video.shape[2:]} of "
                         f"{train.path}")
    a, b = train.attrs, test.attrs
    if b.get("split") == "train":
        raise ValueError(f"--test: {test.path} is a training-split store (attr split = 'train'); test the classifier "
                         "on held-out clips")
    if a.get("split") == "test":
        raise ValueError(f"--train: {train.path} is a test-split store (attr split = 'test'); train the classifier on "
                         "other clips")
    if all(k in a and k in b and a[k] == b[k] for k in ("generator", "seed")):
        raise ValueError(f"{test.path}: made with the same seed {b['seed']} as {train.path}, so the same "
                         f"episodes; make the test store with another --seed")


TRAIN_STORE_KEYS = ("generator", "seed", "episodes", "perturb", "size")
"""Attributes of the training store recorded in ``classifier.pt`` (``train_store``) and checked on reuse."""


def _train_store_record(windows: Windows) -> dict[str, Any]:
    return {"path": str(windows.path), **{k: windows.attrs[k] for k in TRAIN_STORE_KEYS if k in windows.attrs}}


def reuse_classifier(path: Path, train: Windows, frames: int, log: Callable[[str], None]
                     ) -> tuple[EventClassifier, dict[str, Any]]:
    """Load ``classifier.pt`` of an earlier run and check it against this run: its window length is
    ``frames``, its frame shape is ``train``'s, and, where it records its training store (``train_store``),
    that store is ``train`` (same generator, seed, episodes, perturbation and size)."""
    model, ckpt = load_event_classifier(path)
    if int(ckpt["config"]["frames"]) != frames:
        raise ValueError(f"--classifier: {path} judges windows of {ckpt['config']['frames']} frames, not --frames "
                         f"{frames}")
    if tuple(ckpt["frame_shape"]) != tuple(train.video.shape[2:]):
        raise ValueError(f"--classifier: {path} was trained on frames {tuple(ckpt['frame_shape'])} [H, W, C], "
                         f"{train.path} has {tuple(train.video.shape[2:])}")
    record = ckpt.get("train_store")
    if record is None:
        log(f"warning: {path} does not record its training store; it must have been trained on {train.path}")
    else:
        ours = _train_store_record(train)
        differ = [k for k in TRAIN_STORE_KEYS if record.get(k) != ours.get(k)]
        if differ:
            raise ValueError(f"--classifier: {path} was trained on {record['path']}, not on --train {train.path} "
                             f"({', '.join(differ)} differ)")
    return model, ckpt


def run_video_events(cfg: VideoEventsConfig, log: Callable[[str], None] = print, progress: bool = False
                     ) -> list[dict[str, Any]]:
    """Train the classifier on ``cfg.train`` (or reuse ``cfg.classifier_path``), evaluate it on ``cfg.test``,
    score every generated store;
    write the files into ``cfg.out`` atomically (an existing folder only with ``cfg.overwrite``, refused
    before any work). Returns the fidelity rows, each with the classifier's held-out scores."""
    from sciffusion.common.io.atomic import atomic_path, refuse_existing
    from sciffusion.common.io.provenance import file_sha256

    c = cfg.classifier
    refuse_existing(Path(cfg.out), cfg.overwrite)
    train, test = load_windows(cfg.train, c.frames, c.stride), load_windows(cfg.test, c.frames, c.stride)
    _check_held_out(train, test)
    frame_shape = train.video.shape[2:]
    for path in cfg.generated:  # every input checked before minutes of training
        open_generated(path, c.frames, frame_shape)
    counts = train.counts()
    log(f"train windows per class: {dict(zip(EVENTS, counts))}; test: {dict(zip(EVENTS, test.counts()))}")
    if counts[0] == sum(counts):
        raise ValueError(f"{cfg.train}: no window with an event, only normal driving (make more episodes or use a "
                         f"higher --perturb)")
    for name in (n for n, k in zip(EVENTS, counts) if k == 0):
        log(f"warning: no training window of {name}: the classifier cannot recognise it")
    if cfg.classifier_path is not None:
        model, reused = reuse_classifier(Path(cfg.classifier_path), train, c.frames, log)
        c = EventClassifierConfig(**reused["config"])
        log(f"judging with {cfg.classifier_path} (not retrained)")
    else:
        model = train_classifier(train, c, log, progress)
    report = {**evaluate_classifier(model, test), "train_windows": dict(zip(EVENTS, counts)), "rules": rule_scores(test)}
    real_pop_ins = report["rules"].get("pop_ins", {}).get("per_frame")
    log(f"held-out accuracy {report['accuracy']:.3f}, balanced {report['balanced_accuracy']:.3f}; pixel rules: "
        + ", ".join(f"{k} recall {_fmt(v['recall'])}, false alarms {_fmt(v['false_alarm'])}"
                    for k, v in report["rules"].items() if k in EVENT_RULES)
        + f"; vehicles popping into view per frame {_fmt(real_pop_ins)}")
    rows = []
    for path in cfg.generated:
        for row in rare_event_fidelity(model, path, c.frames, frame_shape):
            k = EVENTS.index(row["event"])
            rows.append({**row, "classifier_recall": report["recall"][row["event"]], "train_windows": counts[k],
                         "classifier_accuracy": report["accuracy"],
                         "classifier_balanced_accuracy": report["balanced_accuracy"],
                         "rule_recall": report["rules"].get(row["event"], {}).get("recall"),
                         "rule_false_alarm": report["rules"].get(row["event"], {}).get("false_alarm"),
                         **{f"real_rule_{name}": report["rules"].get(name, {}).get("false_alarm") for name in EVENT_RULES},
                         "real_pop_ins_per_frame": real_pop_ins})
    config = {"train": str(cfg.train), "test": str(cfg.test), "generated": [str(p) for p in cfg.generated],
              "out": str(cfg.out), "overwrite": cfg.overwrite, "classifier": asdict(c),
              "classifier_from": None if cfg.classifier_path is None else {
                  "path": str(cfg.classifier_path), "sha256": file_sha256(Path(cfg.classifier_path))}}
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        torch.save({"kind": CHECKPOINT_KIND, "version": 1, "config": asdict(c), "events": list(EVENTS),
                    "frame_shape": list(frame_shape), "train_store": _train_store_record(train),
                    "state_dict": model.state_dict()}, tmp / "classifier.pt")
        (tmp / "classifier_eval.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        _write_csv(tmp / "fidelity.csv", rows)
        plot_confusion(tmp / "confusion.png", np.array(report["confusion"]))
        plot_fidelity(tmp / "fidelity.png", rows)
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: ("" if r[k] is None else r[k]) for k in FIELDS} for r in rows)


def plot_confusion(path: Path, confusion: np.ndarray) -> None:
    """Row-normalised confusion matrix (true class per row), counts in the cells."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(4.8, 4.2), dpi=120)
    ax = fig.add_subplot()
    ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for (i, j), n in np.ndenumerate(confusion):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(EVENTS)), EVENTS, rotation=30, ha="right")
    ax.set_yticks(range(len(EVENTS)), EVENTS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (held-out windows)")
    fig.tight_layout()
    fig.savefig(path)


def _store_name(path: Path) -> str:
    """``gen/clips.zarr`` → ``gen`` (the generate folder says which run), else the store's name."""
    return path.parent.name if path.name == "clips.zarr" and path.parent.name else path.name


def plot_fidelity(path: Path, rows: list[dict[str, Any]]) -> None:
    """Fidelity per (store, event) beside the classifier's held-out recall of that event."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 1.2 * len(rows) + 2), 3.4), dpi=120)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    ax.bar(x - 0.27, [r["fidelity"] for r in rows], 0.27, label="fidelity (classifier)")
    ax.bar(x, [r.get("rule_fidelity") or 0.0 for r in rows], 0.27, label="fidelity (pixel rule)")
    ax.bar(x + 0.27, [r["classifier_recall"] or 0.0 for r in rows], 0.27, label="classifier recall (held-out real)")
    ax.set_xticks(x, [f"{r['event']}\n{_store_name(Path(r['store']))}" for r in rows], fontsize=7)
    ax.set_ylim(0, 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("fraction of clips")
    ax.legend(fontsize=7, loc="upper center", ncol=3)
    fig.tight_layout()
    fig.savefig(path)


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Fidelity per (store, event) beside the classifier's held-out recall of that event, accuracy and
    balanced accuracy, then the pixel rule's fidelity and held-out recall (n/a: no held-out window of
    that event, or no rule for it); below, every rule's firing rate on each row's clips and the vehicles
    popping into view per frame, with the held-out normal windows' rates first."""
    lines = [f"{'event':<15}{'clips':>6}{'fidelity':>10}{'clf recall':>12}{'clf acc':>9}{'clf bal acc':>13}"
             f"{'rule fid':>10}{'rule recall':>13}  store"]
    for r in rows:
        lines.append(f"{r['event']:<15}{r['clips']:>6}{r['fidelity']:>10.3f}{_fmt(r['classifier_recall']):>12}"
                     f"{r['classifier_accuracy']:>9.3f}{r['classifier_balanced_accuracy']:>13.3f}"
                     f"{_fmt(r.get('rule_fidelity')):>10}{_fmt(r.get('rule_recall')):>13}  {r['store']}")
    if rows and any(r.get("pop_ins_per_frame") is not None for r in rows):
        heads = "".join(f"{'rule ' + name.replace('_', ' '):>20}" for name in EVENT_RULES)
        lines += ["", f"{'pixel rules on':<15}{'clips':>6}{heads}{'pop-ins/frame':>15}  store"]
        for r in rows:
            lines.append(f"{r['event']:<15}{r['clips']:>6}"
                         + "".join(f"{_fmt(r.get(f)):>20}" for f in RULE_FIELDS)
                         + f"{_fmt(r.get('pop_ins_per_frame')):>15}  {r['store']}")
        lines.append(f"{'held-out normal':<21}" + "".join(f"{_fmt(rows[0].get(f)):>20}" for f in REAL_RULE_FIELDS)
                     + f"{_fmt(rows[0].get('real_pop_ins_per_frame')):>15}  (the test store's normal windows)")
    return "\n".join(lines)


__all__ = ["EventClassifier", "EventClassifierConfig", "FIELDS", "VideoEventsConfig", "Windows", "evaluate_classifier",
           "format_table", "load_event_classifier", "reuse_classifier", "load_windows", "rare_event_fidelity", "run_video_events",
           "train_classifier", "window_starts"]
