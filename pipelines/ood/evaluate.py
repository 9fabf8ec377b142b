"""``sciffusion ood evaluate``: metrics of a scores table against labels, with plots.

Labels come from a labels CSV (``id,label``) or from a data file or store that holds them (the same
``X`` that was scored; see :mod:`~sciffusion.pipelines.ood.inputs`). Every scored id needs a label.
Metrics are computed on the raw ``score`` column (:mod:`~sciffusion.common.anomaly.metrics`): AUROC,
AUPR-in, AUPR-out, FPR@95TPR, F1-max, and precision / recall / F1 of the detector's own ``label_pred``;
the AUROC of every feature column on its own; with ``maps`` (the folder of ``ood score --maps``) the
frame AUROC when the data has per-frame labels and the pixel AUROC when it has per-pixel masks. For
footage the frame AUROC is over distinct source frames pooled across sources ("micro", the protocol of
most UCSD / Avenue / ShanghaiTech tables), beside ``frame_auroc_per_source`` (the mean of each source's
own AUROC over the sources holding both classes, "macro"); ``smooth_frames`` smooths the frame scores
in time first.

Writes ``report/`` atomically: ``metrics.json``, ``metrics.md`` (a table), ``features.csv``,
``roc.png``, ``pr.png``, ``histogram.png``; for footage with frame labels and ``--maps`` also
``frames.png`` (frame score against frame number per source, anomalous frames shaded).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True)
class OODEvaluateConfig:
    """Scores table, labels (CSV or data), report folder, optional maps folder, label names for stores,
    folders holding footage ground truth (``truth``; :mod:`~sciffusion.pipelines.ood.footage_truth`),
    ``smooth_frames``: σ in frames of the temporal Gaussian applied to footage frame scores within each
    source before the frame metrics (0: none)."""

    scores: Path
    labels: Path
    out: Path
    maps: Optional[Path] = None
    label_names: tuple[str, ...] = ()
    overwrite: bool = False
    truth: tuple[Path, ...] = ()
    smooth_frames: float = 0.0

    def __post_init__(self) -> None:
        if not (self.smooth_frames >= 0 and np.isfinite(self.smooth_frames)):
            raise ValueError(f"--smooth-frames: need a number of frames >= 0, got {self.smooth_frames}")
        if self.smooth_frames > 0 and self.maps is None:
            raise ValueError("--smooth-frames: smooths the frame scores of --maps (footage); give --maps")
        for folder in self.truth:
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"--truth: {folder}: no such folder")


def _scored_footage(config: OODEvaluateConfig):
    """How ``ood score`` cut footage into clips, from the scores' sidecar ``<scores>.json`` (None when the
    scored data were not footage), so that labels read from the same footage line up with the ids."""
    from sciffusion.pipelines.ood.footage import FootageClips

    sidecar = Path(config.scores).with_name(Path(config.scores).name + ".json")
    try:
        recorded = json.loads(sidecar.read_text()).get("footage") if sidecar.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        recorded = None
    return FootageClips.from_dict(recorded) if isinstance(recorded, dict) else None


def _labels(config: OODEvaluateConfig):
    """(id → label, data or None): from a CSV, or from a data file that has labels (images from a folder
    at the maps' size when there are maps, so that their masks line up)."""
    from sciffusion.common.io.npz import read_npz
    from sciffusion.pipelines.ood.inputs import read_inputs, read_labels_csv

    if Path(config.labels).suffix == ".csv":
        if config.truth:
            raise ValueError(f"--truth: the labels come from {config.labels}; --truth labels footage given as --labels")
        return read_labels_csv(config.labels), None
    size = None
    maps_file = None if config.maps is None else Path(config.maps) / "maps.npz"
    if maps_file is not None and maps_file.is_file():
        shape = read_npz(maps_file, lambda archive: archive["maps"].shape if "maps" in archive.files else None)
        size = tuple(shape[1:3]) if shape is not None and len(shape) == 3 else None
    footage = _scored_footage(config)
    data = read_inputs(config.labels, config.label_names or None, image_size=size, footage=footage,
                       truth=config.truth)
    if data.labels is None:
        raise ValueError(f"{config.labels}: holds no labels (need 'label' in an .npz, labels/ in a store, or for "
                         "footage a ground truth for every source: <name>_gt masks, UCSDpedN.m, test_frame_mask/"
                         "<name>.npy, testing_label_mask/<n>_label.mat; or --truth DIR)")
    return dict(zip(data.ids, data.labels.tolist())), data


def _maps_arrays(path: Path):
    """Reader of ``maps.npz`` for :func:`~sciffusion.common.io.npz.read_npz`: (ids, maps, frame
    scores or None); a file without ``id`` and ``maps`` is refused in one line."""

    def read(archive):
        missing = [k for k in ("id", "maps") if k not in archive.files]
        if missing:
            raise ValueError(f"{path}: no '{missing[0]}' array (not written by 'sciffusion ood score --maps')")
        frames = archive["frame_scores"] if "frame_scores" in archive.files else None
        return [str(v) for v in archive["id"].tolist()], archive["maps"], frames

    return read


def _timelines(data, keys: np.ndarray, scores: np.ndarray, labels: np.ndarray):
    """(source name, frame numbers, scores, labels) per footage source, for the timeline plot."""
    from sciffusion.pipelines.ood.footage import FRAME_KEY_BASE, source_names

    names, source = source_names(data), keys // FRAME_KEY_BASE
    return [(names[int(s)], keys[source == s] % FRAME_KEY_BASE, scores[source == s], labels[source == s])
            for s in np.unique(source)]


def smooth_per_source(scores: np.ndarray, source: np.ndarray, sigma: float) -> np.ndarray:
    """Frame scores ``[F]`` (in source and frame order) smoothed in time by a Gaussian of ``sigma`` frames
    within each source (edges: nearest value), the usual post-processing of frame-level video anomaly
    scores; sources never mix."""
    from scipy.ndimage import gaussian_filter1d

    out = np.asarray(scores, np.float64).copy()
    if sigma <= 0:
        return out
    for key in np.unique(source):
        rows = source == key
        out[rows] = gaussian_filter1d(out[rows], sigma, mode="nearest")
    return out


def _dense_metrics(config: OODEvaluateConfig, data, ids: list[str]) -> dict[str, Any]:
    from sciffusion.common.anomaly.metrics import frame_auroc, mean_group_auroc, pixel_auroc
    from sciffusion.pipelines.ood.footage import FRAME_KEY_BASE
    from sciffusion.common.io.npz import read_npz

    path = Path(config.maps) / "maps.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no maps (write them with 'sciffusion ood score --maps')")
    if data is None:
        raise ValueError("--maps: frame and pixel AUROC need --labels to be the data file, not a CSV")
    map_ids, maps, frames = read_npz(path, _maps_arrays(path))
    if len(map_ids) != len(maps) or (frames is not None and len(frames) != len(maps)):
        raise ValueError(f"{path}: {len(map_ids)} ids, {len(maps)} maps"
                         + ("" if frames is None else f", {len(frames)} frame score rows") + ": need one each")
    index = {k: i for i, k in enumerate(data.ids)}
    missing = [k for k in map_ids if k not in index]
    if missing:
        raise ValueError(f"{path}: id {missing[0]!r} is not in {config.labels}")
    rows = np.array([index[k] for k in map_ids])
    out: dict[str, Any] = {"maps_inputs": len(map_ids)}
    scored, mapped = set(ids), set(map_ids)
    unmapped, unscored = sum(k not in mapped for k in scored), sum(k not in scored for k in mapped)
    if unmapped or unscored:  # frame/pixel AUROC are over the maps' inputs, not the scores'
        out["maps_note"] = (f"{path}: maps for {len(mapped & scored)} of the {len(scored)} scored inputs"
                            + (f" and {unscored} inputs not in {config.scores}" if unscored else "")
                            + "; frame and pixel AUROC are over the inputs with maps")
    if data.frame_labels is not None and frames is not None:
        labels = data.frame_labels[rows]
        if data.frame_keys is not None:  # footage: each source frame once, at its largest score
            from sciffusion.pipelines.ood.footage import per_source_frame

            keys, per_frame, labels = per_source_frame(data.frame_keys[rows], frames, labels)
            source = keys // FRAME_KEY_BASE
            if config.smooth_frames > 0:
                per_frame = smooth_per_source(per_frame, source, config.smooth_frames)
            out["_timelines"] = _timelines(data, keys, per_frame, labels)
            out["frame_auroc_per_source"], out["sources_with_both_classes"] = \
                mean_group_auroc(per_frame, labels, source)
            out["smooth_frames"] = config.smooth_frames
            frames, labels = per_frame[:, None], labels[:, None]
        out["frame_auroc"] = frame_auroc(frames, labels) if 0 < labels.mean() < 1 else None
    if data.masks is not None:
        masks = data.masks[rows]
        if masks.shape != maps.shape:
            raise ValueError(f"{path}: maps of shape {list(maps.shape[1:])}, masks {list(masks.shape[1:])}")
        out["pixel_auroc"] = pixel_auroc(maps, masks) if 0 < masks.mean() < 1 else None
    return out


def evaluate_ood(config: OODEvaluateConfig) -> dict[str, Any]:
    """Compute the metrics and write the report (module docstring); returns ``metrics.json``'s content."""
    import pandas as pd

    from sciffusion.common.anomaly.metrics import auroc, detection_metrics, pr_curve, roc_curve
    from sciffusion.common.io.atomic import atomic_path
    from sciffusion.common.io.outputs import check_outputs
    from sciffusion.pipelines.ood.plots import save_frame_timelines, save_histogram, save_pr, save_roc
    from sciffusion.pipelines.ood.score import read_table

    check_outputs([("--out", Path(config.out), True)],
                  [config.scores, config.labels, config.maps, *config.truth], config.overwrite)
    table = read_table(config.scores)
    by_id, data = _labels(config)
    missing = [k for k in table["id"] if k not in by_id]
    if missing:
        raise ValueError(f"{config.labels}: no label for id {missing[0]!r} of {config.scores} "
                         f"({len(missing)} of {len(table)} ids unlabelled)")
    y = np.array([by_id[k] for k in table["id"]])
    if len(np.unique(y)) < 2:
        raise ValueError(f"{config.labels}: the {len(y)} scored inputs are all labelled {int(y[0])} "
                         f"({'normal' if y[0] == 0 else 'anomalous'}); the metrics need both classes")
    s = table["score"].to_numpy(dtype=np.float64)
    metrics = detection_metrics(s, y)
    sidecar = Path(config.scores).with_name(Path(config.scores).name + ".json")
    meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    result: dict[str, Any] = {"scores": str(config.scores), "labels": str(config.labels), **metrics.to_dict()}
    if meta.get("skipped_sources"):
        result["skipped_sources"] = meta["skipped_sources"]  # footage too short for one clip: not scored
    if "label_pred" in table:
        pred = table["label_pred"].to_numpy().astype(int)
        tp, fp, fn = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum()), \
            int(((pred == 0) & (y == 1)).sum())
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        result["at_threshold"] = {"precision": precision, "recall": recall,
                                  "f1": 2 * precision * recall / max(precision + recall, 1e-12),
                                  "flagged": int(pred.sum())}
    for key in ("nfe_per_input", "seconds_per_1000_inputs", "score", "threshold"):
        if key in meta:
            result[key] = meta[key]
    timelines = None
    if config.maps is not None:
        dense = _dense_metrics(config, data, list(table["id"]))
        timelines = dense.pop("_timelines", None)
        result.update(dense)
    skip = {"id", "score", "score_normalised", "label_pred"}
    features = pd.DataFrame([{"feature": c, "auroc": auroc(table[c].to_numpy(dtype=np.float64), y)}
                             for c in table.columns if c not in skip])
    fpr, tpr, _ = roc_curve(s, y)
    precision, recall, _ = pr_curve(s, y)
    lines = ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                                                  for k, v in metrics.to_dict().items()]
    with atomic_path(config.out, overwrite=config.overwrite) as tmp:
        tmp.mkdir()
        (tmp / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
        (tmp / "metrics.md").write_text("\n".join(lines) + "\n")
        features.to_csv(tmp / "features.csv", index=False)
        save_roc({"detector": (fpr, tpr, metrics.auroc)}, tmp / "roc.png")
        save_pr(precision, recall, metrics.aupr_out, float(y.mean()), tmp / "pr.png")
        save_histogram(s, y, meta.get("threshold"), tmp / "histogram.png")
        if timelines:
            save_frame_timelines(timelines, tmp / "frames.png")
    return result


__all__ = ["OODEvaluateConfig", "evaluate_ood"]
