"""Pixel rules for driving events: the simulator's event definitions read off rendered frames, with no
learned weights.

A learned judge can be fooled by a generator steered with the gradient of a similar classifier (classifier
guidance); these rules cannot, so ``bench video-events`` reports them beside the classifier. They read
the rendering of :mod:`sciffusion.domains.video.datasets.driving` (highway-env's top view, ego drawn green at
0.35 of the width, other vehicles blue, crashed vehicles red, lane lines light grey on a grey road; a 50 m
view in 64 px) and nothing else: on other footage they are meaningless.

The ego is the green blob near where the renderer always draws it (the middle row, 0.35 of the width).

* ``ego_collision``: a crashed (red) vehicle within :data:`EGO_CRASH_RADIUS_M` of the ego's centre in
  some frame (the simulator paints the other vehicle of an ego crash red; the ego stays green).
* ``cut_in``: a vehicle whose centre is inside the ego's lane (between the two lane lines around the ego)
  and 0 to :data:`~sciffusion.domains.video.datasets.driving.CUT_IN_RANGE_M` ahead in frame t, where in
  frame t − 1 the vehicles within :data:`TRACK_DX_M` of its x were in a neighbouring lane and none in the ego lane, while
  the ego lane's lines stayed put (the ego kept its lane), as the simulator's label requires.

Besides the events, one check of temporal coherence that the rules rely on: :func:`pop_ins_per_frame`, the
vehicles (blue or red) that appear inside the view with no vehicle near them in the frame before. Simulated
traffic enters only across the left and right borders (0.000 per frame on held-out windows); a generator that
makes vehicles flicker in and out fires the cut-in rule on clips it was not asked for (docs/video.md,
twenty-second round).

Clips are uint8 ``[T, H, W, 3]`` RGB; distances are metres, turned into pixels by the frame width
(:data:`~sciffusion.domains.video.datasets.driving.VIEW_M` across).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from sciffusion.domains.video.datasets.driving import CUT_IN_RANGE_M, EGO_AT, VIEW_M

EGO_CRASH_RADIUS_M = 6.25  # centre of the ego to a crashed vehicle's pixels (a car is 5 m long)
TRACK_DX_M = 4.7  # how far along the road a vehicle may move between frames and count as the same one
_MIN_CRASH_PIXELS = 3
_MIN_LINE_PIXELS = 12  # a row is a lane line when this many of its pixels are line-coloured
_LINE_JUMP_PX = 2  # the ego lane's lower line moving more than this between frames: a lane change
_EGO_SEARCH_M = 5.0  # green pixels this close to where the renderer puts the ego are the ego
POP_IN_LANE_M = 4.0  # a vehicle's predecessor is at most this far across the road (a lane is 4 m wide)


def rules_apply(frame_shape: tuple[int, ...]) -> bool:
    """Whether the rules can read frames of ``frame_shape`` [..., C]: colour (RGB) renderings only."""
    return len(frame_shape) > 0 and frame_shape[-1] == 3


def _channels(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.asarray(clip).astype(np.int16)
    if v.ndim != 4 or v.shape[-1] != 3:
        raise ValueError(f"event rules: clips must be RGB [T, H, W, 3], got shape {tuple(v.shape)}")
    return v[..., 0], v[..., 1], v[..., 2]


def ego_mask(clip: np.ndarray) -> np.ndarray:
    """Green (ego) pixels, bool [T, H, W]."""
    r, g, b = _channels(clip)
    return (g > 110) & (r < 120) & (b < 120) & (g - r > 40)


def vehicle_mask(clip: np.ndarray) -> np.ndarray:
    """Blue (other, not crashed) vehicle pixels, bool [T, H, W]."""
    r, _, b = _channels(clip)
    return (b > 150) & (b - r > 50)


def crash_mask(clip: np.ndarray) -> np.ndarray:
    """Red (crashed vehicle) pixels, bool [T, H, W]."""
    r, g, b = _channels(clip)
    sat = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    return (r > 180) & (g < 120) & (sat > 60)


def line_mask(clip: np.ndarray) -> np.ndarray:
    """Light, unsaturated (lane line) pixels, bool [T, H, W]."""
    r, g, b = _channels(clip)
    lo, hi = np.minimum(np.minimum(r, g), b), np.maximum(np.maximum(r, g), b)
    return (lo > 130) & (hi - lo < 30)


def _px_per_m(clip: np.ndarray) -> float:
    return np.shape(clip)[2] / VIEW_M


def ego_centre(ego: np.ndarray) -> Optional[tuple[float, float]]:
    """(row, column) of the ego in one frame's green mask [H, W], or None when no ego is drawn: the
    renderer keeps the ego at (H / 2, EGO_AT · W), so only green pixels near there count (a model may draw
    other green blobs)."""
    h, w = ego.shape
    row, col = h / 2 - 0.5, EGO_AT * w - 0.5
    ys, xs = np.nonzero(ego)
    near = np.hypot(ys - row, xs - col) <= _EGO_SEARCH_M * w / VIEW_M
    return (float(ys[near].mean()), float(xs[near].mean())) if near.any() else None


def ego_collision_seen(clip: np.ndarray) -> bool:
    """True when a crashed vehicle touches the ego in some frame of ``clip`` [T, H, W, 3]."""
    crash, ego = crash_mask(clip), ego_mask(clip)
    for t in range(len(crash)):
        ry, rx = np.nonzero(crash[t])
        centre = ego_centre(ego[t]) if len(ry) else None
        if centre is not None:
            ye, xe = centre
            if (np.hypot(ry - ye, rx - xe) <= EGO_CRASH_RADIUS_M * _px_per_m(clip)).sum() >= _MIN_CRASH_PIXELS:
                return True
    return False


def _lanes(ego: np.ndarray, vehicles: np.ndarray, lines: np.ndarray
           ) -> Optional[tuple[float, int, list[tuple[float, int]]]]:
    """One frame: (ego x, the ego lane's lower line row, [(x ahead of the ego, lane offset)] per vehicle
    blob: 0 in the ego lane, ±1 a neighbouring lane ...), or None without an ego or two lines around it."""
    from scipy import ndimage

    rows = np.flatnonzero(lines.sum(1) >= _MIN_LINE_PIXELS)
    centre = ego_centre(ego)
    if len(rows) < 2 or centre is None:
        return None
    ye, xe = centre
    below, above = rows[rows <= ye], rows[rows > ye]
    if not len(below) or not len(above):
        return None
    lo, hi = int(below.max()), int(above.min())
    width = max(hi - lo, 3)
    labels, n = ndimage.label(vehicles)
    blobs = []
    for y, x in ndimage.center_of_mass(vehicles, labels, range(1, n + 1)):
        lane = 0 if lo <= y <= hi else int(np.sign(y - ye) * np.ceil(min(abs(y - lo), abs(y - hi)) / width))
        blobs.append((x - xe, lane))
    return xe, lo, blobs


def cut_in_seen(clip: np.ndarray) -> bool:
    """True when a vehicle enters the ego's lane ahead of it in some frame of ``clip`` [T, H, W, 3] while
    the ego keeps its lane (module docstring)."""
    ego, vehicles, lines = ego_mask(clip), vehicle_mask(clip), line_mask(clip)
    ahead, track = CUT_IN_RANGE_M * _px_per_m(clip), TRACK_DX_M * _px_per_m(clip)
    before = None
    for t in range(len(ego)):
        now = _lanes(ego[t], vehicles[t], lines[t])
        if now is not None and before is not None and abs(now[1] - before[1]) <= _LINE_JUMP_PX:
            for dx, lane in now[2]:
                if lane == 0 and 0 < dx <= ahead:
                    was = [l for px, l in before[2] if abs(px - dx) <= track]
                    if was and 0 not in was and any(abs(l) == 1 for l in was):
                        return True
        before = now
    return False


def pop_ins(clip: np.ndarray) -> int:
    """Vehicles that pop into view in ``clip`` [T, H, W, 3]: blobs of vehicle or crash pixels in frame t whose
    centre is more than :data:`TRACK_DX_M` from the left and right borders (where traffic enters) and that have
    no blob in frame t − 1 within :data:`TRACK_DX_M` along the road and :data:`POP_IN_LANE_M` across it."""
    from scipy import ndimage

    mask = vehicle_mask(clip) | crash_mask(clip)
    ppm = _px_per_m(clip)
    track, lane, width = TRACK_DX_M * ppm, POP_IN_LANE_M * ppm, mask.shape[2]
    count, before = 0, None
    for frame in mask:
        labels, n = ndimage.label(frame)
        now = np.array(ndimage.center_of_mass(frame, labels, range(1, n + 1)), dtype=float).reshape(-1, 2)
        if before is not None:
            for y, x in now:
                inside = track < x < width - 1 - track
                near = (np.abs(before[:, 1] - x) <= track) & (np.abs(before[:, 0] - y) <= lane)
                count += int(inside and not near.any())
        before = now
    return count


def pop_ins_per_frame(clips) -> float:
    """Mean :func:`pop_ins` per frame transition over ``clips`` (an iterable of uint8 [T, H, W, 3], T >= 2)."""
    counts, transitions = 0, 0
    for clip in clips:
        clip = np.asarray(clip)
        if len(clip) < 2:
            raise ValueError(f"pop-ins: need clips of >= 2 frames, got {len(clip)}")
        counts, transitions = counts + pop_ins(clip), transitions + len(clip) - 1
    if not transitions:
        raise ValueError("pop-ins: no clips")
    return counts / transitions


#: event name (:data:`~sciffusion.domains.video.events.EVENTS`) -> rule; events without a rule are absent
EVENT_RULES: dict[str, Callable[[np.ndarray], bool]] = {"ego_collision": ego_collision_seen, "cut_in": cut_in_seen}


def rule_rate(clips, event: str) -> float:
    """Fraction of ``clips`` (an iterable of uint8 [T, H, W, 3]) in which the rule of ``event`` fires."""
    rule = EVENT_RULES[event]
    hits = [rule(np.asarray(c)) for c in clips]
    if not hits:
        raise ValueError(f"rule_rate: no clips for {event}")
    return float(np.mean(hits))


__all__ = ["EGO_CRASH_RADIUS_M", "EVENT_RULES", "POP_IN_LANE_M", "TRACK_DX_M", "crash_mask", "cut_in_seen", "ego_centre",
           "ego_collision_seen", "ego_mask", "line_mask", "pop_ins", "pop_ins_per_frame", "rule_rate", "rules_apply", "vehicle_mask"]
