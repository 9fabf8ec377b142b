"""``sciffusion ood score``: score inputs with a fitted detector; one row per input, optional dense maps.

The table (CSV, or Parquet for a ``.parquet`` path) has ``id, score, score_normalised, label_pred`` and
then one column per feature (the uncalibrated per-level features, named by level and σ). ``score`` is
the calibrated raw score (higher = more anomalous), ``score_normalised`` ∈ (0, 1) with the threshold at
0.5, ``label_pred`` = score > threshold. Beside the table, ``<table>.json`` records the detector, the
NFE per input and the time per 1,000 inputs. ``maps`` (a folder): ``maps.npz`` (``id`` [N], ``maps``
float32 [N, H, W] or [N, T, H, W], and ``frame_scores`` [N, T] for clips: the score's own per-frame
scores, the per-frame max of a position-distance map or else the per-frame mean of the map;
:func:`~sciffusion.common.anomaly.features.frame_scores`) and PNG overlays of the first ``overlays``
inputs. Every output is written atomically.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class OODScoreConfig:
    """Detector (folder or file), data, output table, optional maps folder and how many overlays to draw."""

    detector: Path
    data: Path
    out: Path
    maps: Optional[Path] = None
    overlays: int = 32
    label_names: tuple[str, ...] = ()
    overwrite: bool = False
    clip_stride: Optional[int] = None

    def __post_init__(self) -> None:
        if Path(self.out).suffix not in TABLE_SUFFIXES:
            raise ValueError(f"--out: {self.out}: need a .csv or .parquet file name")
        if self.overlays < 0:
            raise ValueError(f"--overlays: must be >= 0, got {self.overlays}")
        if self.clip_stride is not None and self.clip_stride < 1:
            raise ValueError(f"--clip-stride: must be >= 1, got {self.clip_stride}")


def detector_footage(detector: Path | str, sample_shape: tuple[int, ...], stride: Optional[int] = None):
    """How footage is cut for a detector of clips ``[C, T, S, S]``: its clip length, size and channels,
    the frame fit (crop or stretch) that ``ood fit`` recorded in ``config.json`` beside the detector
    (crop when there is none), ``stride`` frames between clips (None: the fit's, else no overlap).
    None for a detector of images, of non-square clips, or of clips neither grey nor RGB (footage is one or
    the other)."""
    from sciffusion.pipelines.ood.footage import FootageClips

    if len(sample_shape) != 4 or sample_shape[-1] != sample_shape[-2] or sample_shape[0] not in (1, 3):
        return None
    path = Path(detector)
    config_file = (path if path.is_dir() else path.parent) / "config.json"
    recorded: dict[str, Any] = {}
    if config_file.is_file():
        try:
            recorded = json.loads(config_file.read_text()).get("footage") or {}
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            recorded = {}
    c, t, s, _ = sample_shape
    return FootageClips(clip_frames=t, size=s, channels=c, stride=stride or recorded.get("stride"),
                        fit=recorded.get("fit", "crop"))


def frame_table(data, frames: np.ndarray):
    """Per source frame of footage: ``source, frame, score`` (the largest frame score of the clips that
    hold the frame), in source and frame order; ``frames`` [N, T]."""
    import pandas as pd

    from sciffusion.pipelines.ood.footage import FRAME_KEY_BASE, per_source_frame, source_names

    keys, best, _ = per_source_frame(data.frame_keys, frames)
    names = source_names(data)
    return pd.DataFrame({"source": [names[int(k) // FRAME_KEY_BASE] for k in keys], "frame": keys % FRAME_KEY_BASE,
                         "score": best})


def load_detector(path: Path | str):
    """A detector (one score, or an ensemble) from ``DIR/detector.pt`` or the file itself."""
    from sciffusion.common.anomaly import load_any_detector
    from sciffusion.pipelines.ood.fit import DETECTOR_FILE

    path = Path(path)
    file = path / DETECTOR_FILE if path.is_dir() else path
    if path.is_dir() and not file.is_file():
        raise FileNotFoundError(f"{path}: no {DETECTOR_FILE} in this folder (write one with 'sciffusion ood fit')")
    return load_any_detector(file)


def write_table(table, path: Path, overwrite: bool) -> None:
    """A pandas table to CSV or Parquet (by suffix), atomically."""
    from sciffusion.common.io.atomic import atomic_path

    with atomic_path(path, overwrite=overwrite) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)


def read_table(path: Path):
    """A scores table written by :func:`write_table`; one-line errors for a missing or bad file."""
    import pandas as pd

    from sciffusion.pipelines.ood.inputs import read_csv_with_ids

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such scores file")
    if path.suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: need a .csv or .parquet scores file")
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else read_csv_with_ids(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable scores table ({type(exc).__name__})") from None
    if not {"id", "score"} <= set(table.columns):
        raise ValueError(f"{path}: need columns id and score (written by 'sciffusion ood score')")
    if table.empty:
        raise ValueError(f"{path}: no rows")
    table["id"] = table["id"].astype(str)
    if table["id"].duplicated().any():
        raise ValueError(f"{path}: id {table['id'][table['id'].duplicated()].iloc[0]!r} appears twice")
    for column in table.columns.drop("id"):  # every column is a number: the score, label_pred, the features
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | ((values != 0) & (values != 1) if column == "label_pred" else False)
        if bad.any():
            need = "0 or 1" if column == "label_pred" else "a finite number"
            raise ValueError(f"{path}: {column} of id {table['id'][bad].iloc[0]!r} is "
                             f"{str(table[column][bad].iloc[0])!r}, need {need} ({int(bad.sum())} of {len(table)} rows)")
        table[column] = values.astype(np.int64) if column == "label_pred" else values
    return table


def _write_maps(folder: Path, data, maps: np.ndarray, frames: Optional[np.ndarray], overlays: int,
                overwrite: bool) -> None:
    from sciffusion.common.io.atomic import atomic_path
    from sciffusion.pipelines.ood.overlays import write_overlay

    arrays: dict[str, Any] = {"id": np.array(data.ids), "maps": maps.astype(np.float32)}
    if data.layout == "clips" and frames is not None:
        arrays["frame_scores"] = frames.astype(np.float32)
    vmax = float(np.quantile(maps, 0.99)) if maps.size else 1.0
    with atomic_path(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        np.savez_compressed(tmp / "maps.npz", **arrays)
        if data.frame_keys is not None and frames is not None:
            frame_table(data, frames).to_csv(tmp / "frames.csv", index=False)
        for i in range(min(overlays, len(maps))):
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in data.ids[i])
            write_overlay(tmp / f"{i:05d}_{safe}.png", data.pixels[i], maps[i], vmax)


def score_ood(config: OODScoreConfig, on_batch: Optional[Callable[[int], None]] = None,
              on_start: Optional[Callable[[int], None]] = None,
              on_frames: Optional[Callable[[int], None]] = None) -> dict[str, Any]:
    """Score ``config.data`` and write the table (and maps); returns the sidecar summary.
    ``on_start(N)`` is called once the inputs are read, ``on_batch(n)`` after each scored batch,
    ``on_frames(n)`` after n footage frames are decoded. Footage (video files, frame folders) is cut
    into the detector's clips (:func:`detector_footage`); with ``--maps`` a ``frames.csv`` then gives
    one score per source frame."""
    import pandas as pd

    from sciffusion.common.anomaly.features import frame_scores
    from sciffusion.common.anomaly.score_config import MAPLESS_SCORES
    from sciffusion.common.io.atomic import write_text_atomic
    from sciffusion.common.io.outputs import check_outputs
    from sciffusion.pipelines.ood.inputs import read_inputs

    out = Path(config.out)
    det = load_detector(config.detector)
    check_outputs([("--out", out, False)] + ([("--maps", Path(config.maps), True)] if config.maps is not None else []),
                  {"--detector": config.detector, "--data": config.data}, config.overwrite)
    expected = det.sample_shape
    footage = detector_footage(config.detector, expected, config.clip_stride)
    data = read_inputs(config.data, config.label_names or None, image_size=tuple(expected[-2:]), footage=footage,
                       progress=on_frames, image_channels=expected[0] if len(expected) == 3 else None)
    if config.clip_stride is not None and data.frame_keys is None:
        raise ValueError(f"--clip-stride: cuts footage (video files, frame folders) into clips; {config.data} holds "
                         "inputs already")
    if tuple(data.model_inputs_shape[1:]) != expected:
        raise ValueError(f"{config.data}: inputs of shape {list(data.model_inputs_shape[1:])} (C, [T,] H, W), "
                         f"the detector {config.detector} was fitted on {list(expected)}")
    if config.maps is not None and set(det.score_name.split("+")) <= set(MAPLESS_SCORES):
        raise ValueError(f"--maps: the {det.score_name} score has no dense map (use features, msma, recon, "
                         "path, predictive, pixels or combined)")
    if on_start is not None:
        on_start(len(data))
    start = time.monotonic()
    scores = det.score_samples(data.reduced_inputs(det.working_shape), on_batch)  # floats at the network's size
    calibrated = det.calibration_.score(scores.features.numpy())
    seconds = time.monotonic() - start
    table = pd.DataFrame({"id": data.ids, "score": calibrated,
                          "score_normalised": det.calibration_.normalise(calibrated),
                          "label_pred": det.calibration_.predict(calibrated)})
    features = pd.DataFrame(scores.features.numpy(), columns=list(scores.names))
    write_table(pd.concat([table, features], axis=1), out, config.overwrite)
    if config.maps is not None and scores.map is not None:
        frames = frame_scores(scores)
        _write_maps(Path(config.maps), data, scores.map.numpy(), None if frames is None else frames.numpy(),
                    config.overlays, config.overwrite)
    summary = {"detector": str(config.detector), "data": str(config.data), "inputs": len(data),
               "score": det.score_name, "nfe_per_input": scores.nfe, "seconds": round(seconds, 3),
               "seconds_per_1000_inputs": round(1000 * seconds / len(data), 3), "threshold": det.threshold_,
               "flagged": int(table["label_pred"].sum()), "maps": None if config.maps is None else str(config.maps),
               "footage": footage.to_dict() if footage is not None and data.frame_keys is not None else None,
               "skipped_sources": list(data.skipped)}
    write_text_atomic(out.with_name(out.name + ".json"), json.dumps(summary, indent=2) + "\n")
    return summary


__all__ = ["OODScoreConfig", "TABLE_SUFFIXES", "detector_footage", "frame_table", "load_detector", "read_table", "score_ood", "write_table"]
