"""Event classes of the driving set, as the video model and its data module use them.

A window's event is the highest-priority event labelled on any of its frames (``labels/<name>`` uint8
[N, T] from ``make-driving``), else ``normal``. Index 0 is ``normal``; the indices are the model's
event labels (-1 = no label, the classifier-free guidance null condition).
"""
from __future__ import annotations

import numpy as np

EVENTS = ("normal", "ego_collision", "cut_in", "near_miss")
"""Event classes, in priority order after ``normal`` (a window with a collision and a near-miss is a collision)."""


def event_index(name: str, option: str = "--event") -> int:
    """The model's label of event ``name`` (``collision`` is accepted for ``ego_collision``); an unknown
    name is a one-line error naming ``option``."""
    canonical = {"collision": "ego_collision", "cut-in": "cut_in", "near-miss": "near_miss"}.get(name, name)
    if canonical not in EVENTS:
        raise ValueError(f"{option}: must be one of normal, collision, cut-in, near-miss, got {name!r}")
    return EVENTS.index(canonical)


def window_event(labels: dict[str, np.ndarray], start: int, stop: int | None) -> int:
    """Event index of frames [start, stop) (None: to the end) of one clip; ``labels``: name -> [T] uint8 per-frame flags."""
    for index, name in enumerate(EVENTS[1:], start=1):
        flags = labels.get(name)
        if flags is not None and bool(np.asarray(flags[start:stop]).any()):
            return index
    return 0


def check_event_frame(at_frame: int, horizon: int) -> None:
    """One-line ``ValueError`` naming ``--event-frame`` unless ``at_frame`` is one of ``horizon`` generated frames."""
    if not 0 <= at_frame < horizon:
        raise ValueError(f"--event-frame: must be a generated frame, 0 to {horizon - 1} (--frames {horizon}), "
                         f"got {at_frame}")


ONSET_FIRST = ("ego_collision",)
"""Events that ``generate`` from nothing starts after a normal first block unless told otherwise: asked for on
every block, collision clips mostly show the wreck from the first frame, and the judge then finds fewer
collisions (47 of 96 clips against 61 with the onset in the second block; cut-ins do worse with it, 14 of
96 against 29; docs/video.md, nineteenth round)."""


def default_onset_frame(event: int, block_frames: int, horizon: int) -> int | None:
    """The generated frame an event from :data:`ONSET_FIRST` begins around when the user does not say: the
    first frame of the second block (``block_frames``), when there is one; None (every block carries the
    event) for the other events."""
    return block_frames if EVENTS[event] in ONSET_FIRST and horizon > block_frames else None


def onset_schedule(event: int, at_frame: int, horizon: int, block_frames: int) -> list[int]:
    """The event of each generated block (``ceil(horizon / block_frames)`` blocks of ``block_frames`` frames)
    for an event whose onset falls on generated frame ``at_frame`` (0-based): ``normal`` (0) for the blocks
    before the one that holds that frame, ``event`` from that block on. The simulator's labels mark a
    collision or a cut-in on the frame where it begins, so a clip judged by them needs the normal lead-up;
    after the onset the event stays the condition, because guidance towards ``normal`` erases the wreck
    (docs/video.md, nineteenth round). One-line ``ValueError`` naming ``--event-frame`` when the frame is
    not generated."""
    check_event_frame(at_frame, horizon)
    blocks = -(-horizon // block_frames)
    return [event if b >= at_frame // block_frames else 0 for b in range(blocks)]


def block_events(event: int, at_frame: int | None, horizon: int, block_frames: int) -> list[int]:
    """The event each generated block is asked to show: ``event`` on every block when ``at_frame`` is None,
    else :func:`onset_schedule` (normal before the block that holds generated frame ``at_frame``)."""
    if at_frame is None:
        return [event] * -(-horizon // block_frames)
    return onset_schedule(event, at_frame, horizon, block_frames)


def asked_per_frame(schedule: list[int], block_frames: int, horizon: int, context_frames: int = 0) -> np.ndarray:
    """The event each frame of a generated clip was asked to show, int64 ``[context_frames + horizon]``:
    -1 for the real context frames (nothing was asked of them), then each generated frame its block's event
    from ``schedule`` (one per block of ``block_frames``, :func:`block_events`)."""
    blocks = -(-horizon // block_frames)
    if len(schedule) != blocks:
        raise ValueError(f"schedule: one event per block, {blocks} blocks of {block_frames} in {horizon} frames, "
                         f"got {len(schedule)}")
    generated = np.repeat(np.asarray(schedule, np.int64), block_frames)[:horizon]
    return np.concatenate([np.full(context_frames, -1, np.int64), generated])


__all__ = ["EVENTS", "ONSET_FIRST", "asked_per_frame", "block_events", "check_event_frame", "default_onset_frame", "event_index",
           "onset_schedule", "window_event"]
