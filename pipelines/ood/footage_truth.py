"""Ground truth of anomaly footage in the layouts the public video anomaly sets ship.

For one footage source (a video file or a frame folder; its *name* is the file's stem or the folder's
name), :func:`find_truth` returns per-frame labels ``[T]`` (0 normal, 1 anomalous) and, where the set has
them, per-pixel masks ``[T, S, S]`` brought to the clips' square size like the frames (centre crop or
stretch). It looks for, in this order:

* **UCSD Ped** pixel masks: a folder ``<name>_gt`` beside the source, one mask image per frame
  (``Test/Test001_gt/001.bmp`` …);
* **ShanghaiTech**: ``test_pixel_mask/<name>.npy`` (uint8 ``[T, H, W]``, 0/1) and
  ``test_frame_mask/<name>.npy`` (``[T]``, 0/1), beside the ``frames``/``videos`` folder;
* **CUHK Avenue**: ``testing_label_mask/<n>_label.mat`` (also under ``ground_truth_demo/``), whose
  ``volLabel`` is a 1 × T cell of H × W masks, ``n`` the source's number without leading zeros
  (``01.avi`` → ``1_label.mat``); ``<name>_label.mat`` and ``<name>.mat`` are accepted too;
* **UCSD Ped's MATLAB list** (``UCSDped1.m``, ``UCSDped2.m``: ``TestVideoFile{end+1}.gt_frame =
  [61:180];`` per test video, in order, 1-based inclusive frame ranges): frame labels of the source whose
  name ends in the number k (``Test007`` → the 7th entry). Ped1 has pixel masks for 10 of its 36 test
  videos only; this file labels all of them.

Where both exist, frame labels come from the frame-level file (the set's official frame labels), masks
from the pixel-level one; without a frame-level file a frame is anomalous when its mask has any non-zero
pixel (at the file's own resolution).

Where: the ``truth`` folders given (``ood evaluate --truth``), which may hold the files themselves or the
named subfolders; then the named subfolders of the source's folder and of the three folders above it
(not those folders themselves, where an unrelated ``.npy`` may lie beside the footage). Files matched by
number only (Avenue's ``<n>_label.mat``, the ``.m`` lists, which may also lie in the source's own folder)
are taken from those automatic places only for sources in a folder whose name contains ``test``
(Avenue's ``testing_videos``, UCSD's ``Test``): ``training_videos/01.avi`` is not test video 1. A file
that is found but does not fit (another frame count, a mask of another shape, an unreadable file) is a
one-line ``ValueError`` naming it, never a silent fallback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

PIXEL_MASK_FOLDER = "test_pixel_mask"  # ShanghaiTech
FRAME_MASK_FOLDER = "test_frame_mask"  # ShanghaiTech
AVENUE_MASK_FOLDERS = ("testing_label_mask", "ground_truth_demo/testing_label_mask")
SEARCH_LEVELS = 3  # folders above a source's own folder searched for its truth
_GT_FRAME_LINE = re.compile(r"gt_frame\s*=\s*\[([^\]]*)\]")


@dataclass(frozen=True)
class SourceTruth:
    """One source's ground truth: ``frames`` int64 ``[T]`` 0/1, ``masks`` int64 ``[T, S, S]`` 0/1 or None,
    and where they came from (``origin``: the files or folders read, for messages and reports)."""

    frames: np.ndarray
    masks: Optional[np.ndarray]
    origin: tuple[str, ...]


def _search_folders(given: Sequence[Path], nearby: Sequence[Path]) -> list[Path]:
    """Existing folders that may hold truth files, nearest first: each ``given`` folder and its named
    subfolders, then the named subfolders of the ``nearby`` ones (not those folders themselves, where an
    unrelated ``.npy`` may lie beside the footage)."""
    named = (PIXEL_MASK_FOLDER, FRAME_MASK_FOLDER, *AVENUE_MASK_FOLDERS)
    folders: list[Path] = []
    for root, itself in [(g, True) for g in given] + [(n, False) for n in nearby]:
        for folder in ([root] if itself else []) + [root / name for name in named]:
            if folder.is_dir() and folder not in folders:
                folders.append(folder)
    return folders


def _number(name: str) -> Optional[int]:
    """The number a source name ends with (``Test007`` → 7, ``01`` → 1), or None."""
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else None


def _fit_masks(masks: np.ndarray, size: int, fit: str, origin: Path) -> np.ndarray:
    """0/1 (or 0/255) masks ``[T, H, W]`` → int64 ``[T, S, S]`` 0/1, resized like the frames (> 127 after
    bilinear resizing of 0/255)."""
    from sciffusion.domains.video.ingest import square_resize

    if masks.ndim != 3:
        raise ValueError(f"{origin}: masks must be [T, H, W], got shape {masks.shape}")
    binary = (np.asarray(masks) > 0).astype(np.uint8) * 255
    return np.stack([square_resize(m, size, fit) > 127 for m in binary]).astype(np.int64)


NPY_MAGIC = b"\x93NUMPY"


def _load_npy(path: Path) -> np.ndarray:
    """A label or mask ``.npy``; one-line errors for a file that is not one (numpy would talk of pickles)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if head != NPY_MAGIC:
        raise ValueError(f"{path}: not a .npy array (no NumPy header; empty, another format or damaged)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = ("holds Python objects, not an array" if "pickle" in str(exc).lower() or "Object arrays" in str(exc)
                  else f"cut short or damaged: {' '.join(str(exc).split())[:100]}")
        raise ValueError(f"{path}: not a readable .npy array ({reason})") from None


def _load_mat_masks(path: Path) -> np.ndarray:
    """Avenue's ``volLabel`` (a 1 × T cell of H × W masks) → ``[T, H, W]``."""
    try:
        from scipy.io import loadmat

        content = loadmat(path)
    except NotImplementedError:  # MATLAB 7.3 files are HDF5
        raise ValueError(f"{path}: a MATLAB 7.3 (HDF5) file, which scipy cannot read; save it with -v7 or as "
                         ".npy [T, H, W]") from None
    except (ValueError, OSError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable .mat file ({' '.join(str(exc).split())[:120]})") from None
    if "volLabel" not in content:
        names = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"{path}: no 'volLabel' (Avenue's per-frame masks); holds {names}")
    cells = np.asarray(content["volLabel"]).reshape(-1)
    shapes = {np.shape(m) for m in cells}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"{path}: volLabel must hold H x W masks of one size, got shapes {sorted(shapes)[:3]}")
    return np.stack([np.asarray(m) for m in cells])


def read_matlab_frame_ranges(path: Path) -> list[np.ndarray]:
    """UCSD Ped's ``UCSDpedN.m`` → per test video in order, the anomalous frames (0-based int64)."""
    ranges: list[np.ndarray] = []
    for line in path.read_text(errors="replace").splitlines():
        match = _GT_FRAME_LINE.search(line.split("%", 1)[0])
        if not match:
            continue
        frames: list[int] = []
        for part in filter(None, re.split(r"[,\s]+", match.group(1).strip())):
            bounds = part.split(":")
            try:
                if len(bounds) == 1:
                    frames.append(int(bounds[0]))
                elif len(bounds) == 2:
                    frames += range(int(bounds[0]), int(bounds[1]) + 1)
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{path}: cannot read the frame range {part!r} of gt_frame (need a:b or a)") from None
        ranges.append(np.asarray(frames, np.int64) - 1)
    return ranges


def _matlab_lists(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.m") if p.is_file() and "gt_frame" in p.read_text(errors="replace"))


def _check_count(origin: Path, count: int, frames: int, what: str, source) -> None:
    """One-line ValueError when a ground-truth file holds ``count`` entries for ``frames`` frames."""
    if count != frames:
        raise ValueError(f"{origin}: {count} {what} for the {frames} frames of {source.path}: need one per frame")


def _frame_labels_from(indices: np.ndarray, frames: int, origin: str) -> np.ndarray:
    if len(indices) and (indices.min() < 0 or indices.max() >= frames):
        raise ValueError(f"{origin}: anomalous frames {indices.min() + 1}..{indices.max() + 1} outside the source's "
                         f"{frames} frames")
    labels = np.zeros(frames, np.int64)
    labels[indices] = 1
    return labels


def find_truth(source, frames: int, size: int, fit: str = "crop",
               truth: Sequence[Path] = ()) -> Optional[SourceTruth]:
    """The ground truth of ``source`` (a :class:`~sciffusion.domains.video.image_sequence.Source` of
    ``frames`` frames, read at ``size`` × ``size`` with ``fit``), or None when none is found (module
    docstring for the layouts and the search)."""
    from sciffusion.domains.video.image_sequence import DEFAULT_FRAME_RATE, ground_truth_folder, read_image_sequence
    from sciffusion.domains.video.ingest import IngestConfig

    stem = source.path.name if source.kind == "frames" else source.path.stem
    number = _number(stem)
    masks, mask_frames, frame_labels, origin = None, None, None, []
    given = [Path(t) for t in truth]
    nearby = [source.path.parent, *list(source.path.parent.parents)[:SEARCH_LEVELS]]
    test_folder = "test" in source.path.parent.name.lower()
    folders = _search_folders(given, nearby)
    by_number = _search_folders(given, nearby if test_folder else [])
    listings = given + ([source.path.parent] if test_folder else []) + by_number  # where UCSDpedN.m may lie

    gt_folder = ground_truth_folder(source)
    if gt_folder is not None:  # UCSD Ped
        cfg = IngestConfig(size=size, fps=None, clip_frames=None, min_frames=1, fit=fit)
        images = read_image_sequence(gt_folder, cfg, DEFAULT_FRAME_RATE).frames.max(-1)
        _check_count(gt_folder, len(images), frames, "masks", source)
        masks, origin = (images > 127).astype(np.int64), [str(gt_folder)]
        mask_frames = (images.reshape(frames, -1) > 0).any(1)
    for folder in folders:
        candidate = folder / f"{stem}.npy"
        if not candidate.is_file():
            continue
        array = _load_npy(candidate)
        if array.ndim == 1 and frame_labels is None:  # ShanghaiTech test_frame_mask
            _check_count(candidate, len(array), frames, "frame labels", source)
            frame_labels, origin = (array > 0).astype(np.int64), origin + [str(candidate)]
        elif array.ndim == 3 and masks is None:  # ShanghaiTech test_pixel_mask
            _check_count(candidate, len(array), frames, "masks", source)
            masks, origin = _fit_masks(array, size, fit, candidate), origin + [str(candidate)]
            mask_frames = array.reshape(frames, -1).any(1)
        elif array.ndim not in (1, 3):
            raise ValueError(f"{candidate}: need frame labels [T] or masks [T, H, W], got shape {array.shape}")
    if masks is None:  # CUHK Avenue
        named = [folder / n for folder in folders for n in (f"{stem}_label.mat", f"{stem}.mat")]
        numbered = [] if number is None else [folder / f"{number}_label.mat" for folder in by_number]
        found = next((f for f in named + numbered if f.is_file()), None)
        if found is not None:
            volume = _load_mat_masks(found)
            _check_count(found, len(volume), frames, "masks", source)
            masks, origin = _fit_masks(volume, size, fit, found), origin + [str(found)]
            mask_frames = volume.reshape(frames, -1).any(1)
    if frame_labels is None and number is not None:  # UCSD Ped's UCSDpedN.m
        listing = next((m for folder in listings if folder.is_dir() for m in _matlab_lists(folder)), None)
        if listing is not None:
            ranges = read_matlab_frame_ranges(listing)
            if number > len(ranges):
                raise ValueError(f"{listing}: lists {len(ranges)} test videos, none for {source.path} (number {number})")
            frame_labels = _frame_labels_from(ranges[number - 1], frames, str(listing))
            origin.append(str(listing))
    if frame_labels is None and mask_frames is not None:
        frame_labels = mask_frames.astype(np.int64)
    return None if frame_labels is None else SourceTruth(frame_labels, masks, tuple(origin))


__all__ = ["AVENUE_MASK_FOLDERS", "FRAME_MASK_FOLDER", "PIXEL_MASK_FOLDER", "SourceTruth", "find_truth",
           "read_matlab_frame_ranges"]
