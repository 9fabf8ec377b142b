"""Read the inputs of ``sciffusion ood``: a video zarr store, an ``.npz`` of images or clips, a labels CSV.

Accepted layouts (uint8 pixels, scaled to [−1, 1] as x = k / 127.5 − 1):

* a zarr store in the project's video layout: ``video`` ``[N, T, H, W, C]``; labels from ``labels/``:
  ``labels/label`` ([N] per clip or [N, T] per frame) when present, else the driving set's
  ``ego_collision``, ``other_collision`` and ``near_miss`` flags ([N, T]) — or the names given;
* an ``.npz`` holding ``images`` ``[N, H, W]`` / ``[N, H, W, C]`` or ``clips`` ``[N, T, H, W]`` /
  ``[N, T, H, W, C]``, with optional ``label`` [N] (0 normal, 1 anomaly), ``frame_label`` [N, T],
  ``mask`` (per-pixel labels, [N, H, W] or [N, T, H, W]) and ``id`` [N]; other arrays are ignored;
* a folder of images (png, jpg, tif, ...), or of image subfolders as MVTec AD and most image anomaly
  sets ship them: ``good`` (also ``normal``, ``ok``, ``nominal``, ``train``) holds normal images, every
  other subfolder anomalies (label 1), masks from a sibling ``ground_truth/<subfolder>/<stem>_mask.png``;
  ids are ``<subfolder>/<file name>``;
* footage, when the caller says how to cut it (``footage``; :mod:`~sciffusion.pipelines.ood.footage`):
  a video file, a folder of frames, or a folder of videos and/or frame folders (UCSD Ped, Avenue),
  cut into clips ``[N, T, S, S, C]`` with ids ``<source>/<first frame>``, labelled where every source
  has a ground truth in a public set's layout (:mod:`~sciffusion.pipelines.ood.footage_truth`);
* a labels CSV with columns ``id,label``.

Model layout: images ``[N, C, H, W]``, clips ``[N, C, T, H, W]``. Ids are the ``id`` array's entries
as text, or the row numbers 0 … N−1.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Optional, Sequence

import numpy as np

from sciffusion.common.io.npz import read_npz

if TYPE_CHECKING:
    from sciffusion.common.anomaly.resolution import ReducedInputs
    from sciffusion.pipelines.ood.footage import FootageClips

Layout = Literal["images", "clips"]
DRIVING_ANOMALIES = ("ego_collision", "other_collision", "near_miss")


@dataclass(frozen=True)
class OODData:
    """Inputs ``pixels`` uint8 in the file's layout, ``ids`` [N] text, optional ``labels`` [N] (0/1),
    ``frame_labels`` [N, T], ``masks`` (per-pixel 0/1 of the map's shape), ``frame_keys`` [N, T]
    (one integer per distinct source frame, for footage whose clips overlap) and ``skipped`` (names of
    footage sources shorter than one clip, left out)."""

    source: Path
    layout: Layout
    pixels: np.ndarray
    ids: list[str]
    labels: Optional[np.ndarray] = None
    frame_labels: Optional[np.ndarray] = None
    masks: Optional[np.ndarray] = None
    frame_keys: Optional[np.ndarray] = None
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.pixels)

    def model_inputs(self, rows: Optional[np.ndarray] = None) -> np.ndarray:
        """float32 in [−1, 1]: images ``[N, C, H, W]``, clips ``[N, C, T, H, W]``; ``rows`` (a boolean
        mask or indices) picks inputs before the conversion, so only they are ever held as floats."""
        return _to_floats(self.pixels if rows is None else self.pixels[rows])

    def reduced_inputs(self, work: Sequence[int], rows: Optional[np.ndarray] = None,
                       chunk: int = 256) -> "ReducedInputs":
        """:meth:`model_inputs` area-averaged to a detector's working size ``work`` (C, [T,] h, w),
        ``chunk`` inputs at a time: only one chunk is ever held as full-size floats (a 10,000-image set
        of 256 × 256 RGB would be 7.9 GB). One-line ValueError (``X: ...``) when ``work`` is not these
        inputs at the same or a smaller H, W."""
        import torch

        from sciffusion.common.anomaly.resolution import ReducedInputs, check_working_shape, reduce_chunks

        check_working_shape(self.sample_shape, tuple(work))
        index = np.arange(len(self.pixels)) if rows is None else np.arange(len(self.pixels))[rows]
        chunks = (torch.from_numpy(_to_floats(self.pixels[index[i:i + chunk]]))
                  for i in range(0, len(index), max(1, chunk)))
        return ReducedInputs(reduce_chunks(chunks, tuple(work)), self.sample_shape)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.model_inputs_shape[1:])

    @property
    def model_inputs_shape(self) -> tuple[int, ...]:
        s = self.pixels.shape
        return (s[0], s[-1]) + tuple(s[1:-1])


def _to_floats(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels ``[N, ..., C]`` → float32 in [−1, 1] in model layout ``[N, C, ...]`` (one copy)."""
    x = np.moveaxis(pixels, -1, 1).astype(np.float32, order="C")
    x /= 127.5
    x -= 1.0
    return x


def _binary(name: str, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != shape:
        raise ValueError(f"{name}: shape {list(values.shape)}, need {list(shape)}")
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"{name}: values must be 0 (normal) or 1 (anomaly)")
    return values.astype(np.int64)


def _read_npz(path: Path) -> OODData:
    return read_npz(path, lambda archive: _npz_data(path, archive))


def _npz_data(path: Path, archive) -> OODData:
    keys = set(archive.files)
    if ("images" in keys) == ("clips" in keys):
        raise ValueError(f"{path}: need exactly one of the arrays 'images' or 'clips', found {sorted(keys)}")
    layout: Layout = "images" if "images" in keys else "clips"
    pixels = archive[layout]
    rank = 3 if layout == "images" else 4
    if pixels.dtype != np.uint8 or pixels.ndim not in (rank, rank + 1):
        want = "[N, H, W] or [N, H, W, C]" if layout == "images" else "[N, T, H, W] or [N, T, H, W, C]"
        raise ValueError(f"{path}: '{layout}' must be uint8 {want}, got {pixels.dtype} {list(pixels.shape)}")
    if min(pixels.shape) < 1:
        raise ValueError(f"{path}: '{layout}' is empty, shape {list(pixels.shape)}")
    if pixels.ndim == rank:
        pixels = pixels[..., None]
    n = len(pixels)
    ids = [str(v) for v in archive["id"].tolist()] if "id" in keys else [str(i) for i in range(n)]
    if len(ids) != n or len(set(ids)) != n:
        raise ValueError(f"{path}: 'id' must hold {n} distinct entries")
    labels = _binary(f"{path}: label", archive["label"], (n,)) if "label" in keys else None
    frames = (_binary(f"{path}: frame_label", archive["frame_label"], (n, pixels.shape[1]))
              if "frame_label" in keys and layout == "clips" else None)
    masks = _binary(f"{path}: mask", archive["mask"], tuple(pixels.shape[:-1])) if "mask" in keys else None
    if labels is None and frames is not None:
        labels = frames.max(1)
    return OODData(path, layout, pixels, ids, labels, frames, masks)


def _read_store(path: Path, label_names: Optional[Sequence[str]]) -> OODData:
    from sciffusion.domains.video.zarr_store import open_video_store

    store = open_video_store(path, kind="dataset")
    pixels = np.asarray(store.video[:])
    n, t = pixels.shape[:2]
    names = list(label_names) if label_names else (["label"] if "label" in store.labels else
                                                  [k for k in DRIVING_ANOMALIES if k in store.labels])
    missing = [k for k in names if k not in store.labels]
    if missing:
        raise ValueError(f"{path}: no labels/{missing[0]} (has {', '.join(sorted(store.labels)) or 'no labels'})")
    labels = frames = None
    for name in names:
        values = np.asarray(store.labels[name][:])
        if values.shape == (n,):
            labels = _binary(f"{path}: labels/{name}", values, (n,)) | (labels if labels is not None else 0)
        else:
            per_frame = _binary(f"{path}: labels/{name}", values, (n, t))
            frames = per_frame if frames is None else frames | per_frame
    if frames is not None:
        labels = frames.max(1) if labels is None else labels | frames.max(1)
    return OODData(path, "clips", pixels, [str(i) for i in range(n)], labels, frames)


NORMAL_FOLDERS = ("good", "normal", "ok", "nominal", "train")
MASK_SUFFIXES = ("_mask", "")


def _image_groups(path: Path) -> list[tuple[str, list[Path]]]:
    """(subfolder name or "", image files): the images directly in ``path``, else those of each subfolder.
    A subfolder ``<name>_gt`` beside a subfolder ``<name>`` holds ground-truth masks (UCSD Ped's layout),
    not inputs, and is left out."""
    from sciffusion.common.io.images import image_files, visible_entries
    from sciffusion.domains.video.image_sequence import is_ground_truth

    direct = image_files(path)
    if direct:
        return [("", direct)]
    folders = [entry for entry in visible_entries(path) if entry.is_dir()]
    names = {entry.name for entry in folders}
    groups = [(entry.name, image_files(entry)) for entry in folders if not is_ground_truth(entry, names)]
    groups = [(name, files) for name, files in groups if files]
    if not groups:
        from sciffusion.domains.video.image_sequence import VIDEO_SUFFIXES

        videos = any(entry.suffix.lower() in VIDEO_SUFFIXES for entry in visible_entries(path) if entry.is_file())
        raise ValueError(f"{path}: no image files (png, jpg, tif, bmp, ...) in this folder or its subfolders, and "
                         "not a zarr store" + ("; it holds video files: footage is cut into clips with "
                                               "'ood fit --clip-frames T'" if videos else ""))
    return groups


def _mask_file(ground_truth: Path, group: str, image: Path) -> Optional[Path]:
    from sciffusion.common.io.images import IMAGE_SUFFIXES

    for tail in MASK_SUFFIXES:
        for suffix in IMAGE_SUFFIXES:
            candidate = ground_truth / group / f"{image.stem}{tail}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _read_image_folder(path: Path, size_hw: Optional[tuple[int, int]], channels: Optional[int] = None) -> OODData:
    """A folder of images (no labels), or of image subfolders: ``good``/``normal``/``ok``/``nominal``/
    ``train`` hold normal images (0), any other subfolder anomalies (1); per-pixel masks from a sibling
    ``ground_truth/<subfolder>/<stem>_mask.png`` (MVTec AD's layout) when that folder exists. Grey when
    every image is single-channel, else RGB, unless ``channels`` (1 or 3, a detector's) says which; every
    image at one size, or resized to ``size_hw``."""
    from sciffusion.common.io.images import is_grey, read_image

    groups = _image_groups(path)
    files = [(name, f) for name, group in groups for f in group]
    grey = all(is_grey(f) for _, f in files) if channels is None else channels == 1
    pixels, shape = [], None
    for name, f in files:
        image = read_image(f, "L" if grey else "RGB", size_hw)
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            raise ValueError(f"{f}: {image.shape[1]}x{image.shape[0]} px, {files[0][1].name} is "
                             f"{shape[1]}x{shape[0]}: pass --image-size to bring every image to one size")
        pixels.append(image if not grey else image[..., None])
    ids = [f"{name}/{f.name}" if name else f.name for name, f in files]
    labels = masks = None
    if groups[0][0]:
        labels = np.array([0 if name.lower() in NORMAL_FOLDERS else 1 for name, _ in files], np.int64)
        ground_truth = path.parent / "ground_truth"
        if ground_truth.is_dir() and labels.any():
            masks = np.zeros((len(files),) + shape[:2], np.int64)
            for i, (name, f) in enumerate(files):
                if labels[i] == 0:
                    continue
                mask_path = _mask_file(ground_truth, name, f)
                if mask_path is None:
                    raise ValueError(f"{f}: no mask {ground_truth / name / (f.stem + '_mask.png')} (a ground_truth "
                                     "folder is there, so every anomalous image needs its mask)")
                masks[i] = read_image(mask_path, "L", shape[:2], nearest=True) > 127
    return OODData(path, "images", np.stack(pixels), ids, labels, None, masks)


def read_inputs(path: Path | str, label_names: Optional[Sequence[str]] = None,
                image_size: Optional[tuple[int, int]] = None, footage: Optional["FootageClips"] = None,
                progress: Optional[Callable[[int], None]] = None, truth: Sequence[Path] = (),
                image_channels: Optional[int] = None) -> OODData:
    """Read ``path`` (module docstring); one-line ``FileNotFoundError``/``ValueError`` naming it.
    ``image_size`` (H, W): the size images from a folder are resized to (other inputs keep theirs);
    ``image_channels`` (1 or 3): grey or RGB for images from a folder (a detector's; None: grey when every
    image is).
    ``footage``: how to cut video files and folders other than zarr stores into clips; without it a
    folder is read as images and a video file is refused. ``progress(n)``: n footage frames decoded.
    ``truth``: folders holding the footage's ground truth (:mod:`~sciffusion.pipelines.ood.footage_truth`);
    refused for inputs that are not footage."""
    from sciffusion.domains.video.zarr_store import looks_like_store
    from sciffusion.pipelines.ood.footage import is_footage_file, read_footage

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or store")
    is_footage = footage is not None and (is_footage_file(path) or (path.is_dir() and not looks_like_store(path)))
    if truth and not is_footage:
        raise ValueError(f"--truth: {path} is not footage cut into clips (video files or frame folders); its labels "
                         "come from the file itself or a labels CSV")
    if path.suffix == ".npz" and path.is_file():
        return _read_npz(path)
    if is_footage_file(path):
        if footage is None:
            raise ValueError(f"{path}: a video file needs a clip length to be cut into clips (ood fit --clip-frames; "
                             "'ood score' takes the detector's), or a detector fitted on clips")
        return read_footage(path, footage, progress, truth)
    if path.is_dir():
        if looks_like_store(path):
            return _read_store(path, label_names)
        if footage is not None:
            return read_footage(path, footage, progress, truth)
        return _read_image_folder(path, image_size, image_channels)
    raise ValueError(f"{path}: need a video zarr store (folder), a folder of images, a video file, or an .npz "
                     "file with 'images' or 'clips'")


def read_csv_with_ids(path: Path):
    """A CSV as a DataFrame whose ``id`` column (when there is one) is the file's text as written: ids
    such as ``NA``, ``null``, ``nan`` or an empty field stay ids, never NaN (other columns are parsed as
    pandas does)."""
    import pandas as pd

    table = pd.read_csv(path)
    if "id" in table.columns:
        table["id"] = pd.read_csv(path, usecols=["id"], dtype=str, keep_default_na=False)["id"].to_numpy()
    return table


def read_labels_csv(path: Path | str) -> dict[str, int]:
    """``id,label`` rows → {id: 0/1}; one-line ValueError on a bad file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such labels file")
    try:
        table = read_csv_with_ids(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({type(exc).__name__})") from None
    if not {"id", "label"} <= set(table.columns):
        raise ValueError(f"{path}: need columns id,label, got {','.join(map(str, table.columns))}")
    if table["id"].duplicated().any():
        raise ValueError(f"{path}: id {table['id'][table['id'].duplicated()].iloc[0]!r} appears twice")
    labels = _binary(f"{path}: label", table["label"].to_numpy(), (len(table),))
    return dict(zip(table["id"].astype(str), labels.tolist()))


__all__ = ["DRIVING_ANOMALIES", "OODData", "read_inputs", "read_labels_csv"]
