"""``sciffusion video generate``: new clips from nothing or from real footage, optionally of a chosen
driving event.

Without ``context`` the first block is sampled with the past masked (unconditional in the frames), the
rest autoregressively (:func:`~sciffusion.domains.video.sampling.rollout`). With ``context`` (a zarr
dataset store or a video file) clip ``i`` continues the first ``context_frames`` frames of context clip
``i mod M``: a scenario from the user's own footage, played on under the chosen event. When an event
is asked for and the store has driving labels, only clips with no event on any frame serve as context,
so an event in the output is the model's doing. With ``event`` every block is conditioned on that event
and guided by classifier-free guidance (``run.sampling.guidance``, σ interval optional); with
``event_frame`` F, the blocks before the one that holds generated frame F are asked to be ``normal``
instead (:func:`~sciffusion.domains.video.events.onset_schedule`): the event begins there, after normal
driving, as the simulator labels an onset. ``event_frame`` "auto" (the default) does so for collisions
generated from nothing, in the second block (:func:`~sciffusion.domains.video.events.default_onset_frame`),
"all" never.

Outputs in ``out/`` (the folder is written atomically): ``clip_000.mp4`` and ``clip_000.gif`` per clip,
``contact_sheet.png`` (one row per clip, one column per frame), ``clips.zarr`` (a dataset store,
``video`` uint8 [N, T, H, W, C], ``labels/event`` int64 [N] when an event was asked for, with
``labels/asked_event`` int64 [N, T], the event each frame's block was asked to show (0 normal before an
onset, -1 on real context frames; what was asked, not what a judge sees), ``labels/context_clip`` int64 [N]
with a context) and ``config.json`` (the resolved settings). With a
context each clip holds its ``context_frames`` real frames followed by ``frames`` generated ones.

Generation runs through Lightning's predict loop (:func:`generation_module` over a dataset of clip
batches): ``devices`` / ``num_nodes`` spread the batches over GPUs or nodes (DDP); the batches are
gathered on rank 0 (``all_gather_object``), which alone writes the files. Batch ``i``
(clips ``[i·B, (i+1)·B)``) is sampled with a generator seeded by ``(seed, i)``, so the clips depend on
``--seed`` and ``--batch-size`` only, not on how many devices drew them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from sciffusion.common.io.atomic import atomic_path
from sciffusion.common.io.outputs import check_outputs
from sciffusion.pipelines.video.predict import unlike_training
from sciffusion.pipelines.video.sampling_run import SamplingRun, load_model


@dataclass(frozen=True)
class GenerateConfig:
    out: Path
    run: SamplingRun = field(default_factory=SamplingRun)
    event: Optional[str] = None
    clips: int = 4
    frames: int = 10
    fps: float = 10.0
    overwrite: bool = False
    devices: int = 1
    num_nodes: int = 1
    context: Optional[Path] = None
    context_frames: Optional[int] = None
    event_frame: Union[int, str] = "auto"
    guide: Optional[Path] = None

    def __post_init__(self) -> None:
        if self.context_frames is not None and self.context is None:
            raise ValueError("--context-frames: needs --context")
        if self.context_frames is not None and self.context_frames < 1:
            raise ValueError(f"--context-frames: must be >= 1, got {self.context_frames}")
        if self.context is not None and not Path(self.context).exists():
            raise FileNotFoundError(f"{self.context}: --context not found")
        if self.clips < 1:
            raise ValueError(f"--clips: must be >= 1, got {self.clips}")
        if self.frames < 1:
            raise ValueError(f"--frames: must be >= 1, got {self.frames}")
        from sciffusion.domains.video.writers import check_frame_rate

        check_frame_rate(self.fps, "--fps")
        if self.devices < 1 or self.num_nodes < 1:
            raise ValueError(f"--devices/--num-nodes: must be >= 1, got ({self.devices}, {self.num_nodes})")
        if self.event is not None:
            from sciffusion.domains.video.events import event_index

            event_index(self.event)  # a bad name is an error before any work
        if self.run.sampling.guide_scale > 0 and self.guide is None:
            raise ValueError("--guide-scale: needs --guide (the event guide file of 'video train-guide')")
        if self.guide is not None and self.event is None:
            raise ValueError("--guide: needs --event (it is what the guide steers towards)")
        if self.guide is not None and not Path(self.guide).is_file():
            raise FileNotFoundError(f"{self.guide}: --guide not found")
        if isinstance(self.event_frame, str) and self.event_frame not in ("auto", "all"):
            raise ValueError(f"--event-frame: auto, all or a generated frame 0 to {self.frames - 1}, got "
                             f"{self.event_frame!r}")
        if self.event_frame != "auto" and self.event is None:
            raise ValueError("--event-frame: needs --event (it is where that event begins)")
        if isinstance(self.event_frame, int):
            from sciffusion.domains.video.events import check_event_frame

            check_event_frame(self.event_frame, self.frames)
        negative = self.run.sampling.negative_event
        if negative is not None:
            from sciffusion.domains.video.events import EVENTS, event_index

            if self.event is None:
                raise ValueError("--negative-event: needs --event (it is what guidance steers away from)")
            if negative == event_index(self.event):
                raise ValueError(f"--negative-event: {EVENTS[negative]} is --event itself; guidance would do nothing")

    def onset_frame(self, label: Optional[int], block_frames: int) -> Optional[int]:
        """The generated frame the event begins around (None: every block carries it): ``event_frame`` as
        given, or for "auto" the event's default when generating from nothing."""
        from sciffusion.domains.video.events import default_onset_frame

        if label is None or self.event_frame == "all":
            return None
        if self.event_frame == "auto":
            return default_onset_frame(label, block_frames, self.frames) if self.context is None else None
        return int(self.event_frame)


def resolve_guide(option: Union[Path, str, None], scale: Optional[float], event: Optional[str],
                  model: Optional[Path]) -> tuple[Optional[Path], float]:
    """``video generate``'s --guide and --guide-scale as (guide file or None, scale).

    ``option`` "auto" (the default): the bundled event guide when an ``event`` is asked of the bundled
    event model (``model`` None or that file), else no guide; "none" (or None): no guide; anything else: a
    guide file. ``scale`` None: :data:`~sciffusion.domains.video.event_guide.DEFAULT_GUIDE_SCALE` with a
    guide, 0 without (a scale given without a guide stays an error of :class:`GenerateConfig`)."""
    from sciffusion.domains.video.event_guide import BUNDLED_GUIDE, DEFAULT_GUIDE_SCALE
    from sciffusion.domains.video.model import BUNDLED_MODELS

    guide: Optional[Path]
    if option is None or str(option) == "none":
        guide = None
    elif str(option) == "auto":
        bundled_model = model is None or Path(model).resolve() == BUNDLED_MODELS["driving"].resolve()
        guide = BUNDLED_GUIDE if event is not None and bundled_model and BUNDLED_GUIDE.is_file() else None
    else:
        guide = Path(option)
    if scale is None:
        scale = DEFAULT_GUIDE_SCALE if guide is not None else 0.0
    return guide, float(scale)


def batch_seed(seed: int, batch: int) -> int:
    """The noise seed of clip batch ``batch`` under ``--seed`` (independent of the device count)."""
    return int(np.random.SeedSequence([seed, batch]).generate_state(1, np.uint64)[0] % (2**63))


def read_context(path: Path, model, clips: int, frames: int,
                 event: Optional[int]) -> tuple[np.ndarray, np.ndarray, Optional[str], Optional[float]]:
    """Context frames for ``clips`` clips: (uint8 [clips, frames, H, W, C], source clip index [clips], the note
    of how the frames were brought to the model or None, the model's denoising gain on the context clips
    (:func:`~sciffusion.pipelines.video.predict.domain_check`, None for clips shorter than its window));
    :func:`~sciffusion.pipelines.video.predict.read_clips`).
    Clip i takes the first ``frames`` frames of usable clip i mod M of ``path`` (a dataset store or a
    video file); with an ``event`` and a labelled store the usable clips are those with no event on any
    frame. One-line errors name ``path``."""
    from sciffusion.domains.video.datamodule import clip_events
    from sciffusion.pipelines.video.predict import domain_check, read_clips

    video, _, is_store, adapted, _ = read_clips(Path(path), model.config.size, model.config.channels, None)
    if video.shape[1] < frames:
        raise ValueError(f"{path}: clips of {video.shape[1]} frames, --context-frames needs {frames}")
    usable = np.arange(len(video))
    if event is not None and is_store:  # a store without event labels: every clip counts as normal
        usable = usable[np.asarray(clip_events(Path(path), usable.tolist())) == 0]
        if not len(usable):
            raise ValueError(f"{path}: no clip without an event to start from (--event needs normal context clips)")
    source = usable[np.arange(clips) % len(usable)]
    gain = domain_check(model, video[usable])
    return np.ascontiguousarray(video[source, :frames]), source, adapted, gain


def generation_module(model, frames: int, sampling, seed: int, label: Optional[int],
                      progress: Optional[Callable[[int], None]] = None, context: Optional[np.ndarray] = None,
                      event_frame: Optional[int] = None, guide=None):
    """A LightningModule whose ``predict_step((batch_index, first, count))`` returns
    ``(first, uint8 [count, T_ctx + frames, H, W, C])`` sampled from ``model`` after the clips' context
    frames (``context`` uint8 [N, T_ctx, H, W, C], or None: T_ctx = 0), every block conditioned on
    ``label`` (with ``event_frame``: ``normal`` before the block holding that generated frame);
    ``progress(frames)`` on rank 0 with the frames each block added over the batch (clips × frames in all);
    ``guide``: an event guide (:func:`~sciffusion.domains.video.sampling.rollout`); its network and the
    model's are submodules, so Lightning moves them to the device."""
    import pytorch_lightning as pl
    import torch

    from sciffusion.domains.video.datamodule import to_uint8, to_unit_range
    from sciffusion.domains.video.events import block_events
    from sciffusion.domains.video.sampling import rollout

    m = model.config
    schedule = None if label is None else block_events(label, event_frame, frames, m.frames)

    class GenerationModule(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = model.net
            self.guide_net = None if guide is None else guide.net

        def predict_step(self, batch, batch_idx):
            index, first, count = (int(v) for v in batch)
            generator = torch.Generator().manual_seed(batch_seed(seed, index))
            if context is None:
                known = torch.zeros(count, m.channels, 0, m.size, m.size)
            else:
                known = to_unit_range(torch.from_numpy(context[first:first + count]))
            event = None if schedule is None else torch.tensor(schedule, dtype=torch.long).expand(count, -1)
            counted = None if progress is None or self.global_rank != 0 else lambda t: progress(t * count)
            out = rollout(model, known, frames, sampling, generator, event=event, progress=counted, guide=guide)
            return first, to_uint8(torch.cat([known, out], dim=2)).numpy()

    return GenerationModule()


def _sample_clips(cfg: GenerateConfig, model, label: Optional[int], progress,
                  context: Optional[np.ndarray], onset: Optional[int], guide=None) -> Optional[np.ndarray]:
    """All clips uint8 [N, T_ctx + T, H, W, C] through ``Trainer.predict``; None on ranks other than 0."""
    import pytorch_lightning as pl
    import torch

    from sciffusion.common.training.quiet import quiet_lightning
    from sciffusion.common.training.trainer import check_batches_per_process, release_process_group

    m = model.config
    b = cfg.run.batch_size
    batches = [torch.tensor([i, first, min(b, cfg.clips - first)]) for i, first in enumerate(range(0, cfg.clips, b))]
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False)
    device = cfg.run.device
    accelerator = "cpu" if device == "cpu" else "gpu"
    devices = [int(device.split(":")[1])] if device.startswith("cuda:") else cfg.devices
    check_batches_per_process(len(batches), devices, cfg.num_nodes, "clips")
    with quiet_lightning():  # no start-up banners in the command's output
        trainer = pl.Trainer(accelerator=accelerator, devices=devices, num_nodes=cfg.num_nodes, logger=False,
                             enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                             inference_mode=cfg.guide is None)  # an event guide differentiates its classifier
        module = generation_module(model, cfg.frames, cfg.run.sampling, cfg.run.seed, label, progress, context,
                                   onset, guide)
        outputs = trainer.predict(module, loader)
    if trainer.world_size > 1:  # gather every rank's batches on rank 0
        import torch.distributed as dist

        gathered: list = [None] * trainer.world_size
        dist.all_gather_object(gathered, outputs)
        outputs = [item for part in gathered for item in part]
        release_process_group()  # the gather was the last collective
        if trainer.global_rank != 0:
            return None
    length = cfg.frames + (0 if context is None else context.shape[1])
    clips = np.empty((cfg.clips, length, m.size, m.size, m.channels), np.uint8)
    seen = np.zeros(cfg.clips, bool)
    for first, block in outputs:
        clips[first:first + len(block)] = block
        seen[first:first + len(block)] = True
    if not seen.all():
        raise RuntimeError(f"generate: {int((~seen).sum())} clips were not produced by the predict loop")
    return clips


def generate(cfg: GenerateConfig, progress: Optional[Callable[[int], None]] = None,
             checked: Optional[Callable[[dict], None]] = None) -> dict:
    """Generate ``cfg.clips`` clips of ``cfg.frames`` frames into ``cfg.out``; returns a summary dict.
    ``checked(notes)`` is called before sampling with the summary's notes on the context (adapted,
    denoising_gain, unlike_training), so a user sees them before waiting."""
    from sciffusion.domains.video import writers
    from sciffusion.domains.video.events import EVENTS, asked_per_frame, block_events, event_index
    from sciffusion.domains.video.model import resolve_model_path, training_steps
    from sciffusion.domains.video.zarr_store import write_video_store
    from sciffusion.pipelines.video.predict import bundled_model_for

    default = "driving" if cfg.event is not None else \
        bundled_model_for(cfg.context) if cfg.context is not None and cfg.run.model is None else "smmnist"
    check_outputs([("--out", Path(cfg.out), True)], [cfg.context, resolve_model_path(cfg.run.model, default)],
                  cfg.overwrite)
    model, model_path = load_model(cfg.run, default=default)
    m = model.config
    label = None if cfg.event is None else event_index(cfg.event)
    if label is not None and not m.events:
        raise ValueError("--event: this model was trained without event labels")
    context = source = adapted = gain = None
    if cfg.context is not None:
        k = m.past_frames if cfg.context_frames is None else cfg.context_frames
        if k < m.past_frames:
            raise ValueError(f"--context-frames: the model conditions on {m.past_frames} past frames, got {k}")
        context, source, adapted, gain = read_context(Path(cfg.context), model, cfg.clips, max(k, 1), label)
    notes = {"adapted": adapted, "denoising_gain": gain, "unlike_training": unlike_training(gain)}
    if checked is not None:
        checked(notes)
    guide = None
    if cfg.guide is not None:
        from sciffusion.domains.video.event_guide import read_guide_file

        guide = read_guide_file(cfg.guide)
        guide.check_fits(m, f"--guide: {cfg.guide}")
    onset = cfg.onset_frame(label, m.frames)
    clips = _sample_clips(cfg, model, label, progress, context, onset, guide)
    summary = {"clips": cfg.clips, "frames": cfg.frames, "out": str(cfg.out),
               "event": None if label is None else EVENTS[label], "event_frame": onset,
               "context_frames": 0 if context is None else context.shape[1], **notes}
    if clips is None:  # not rank 0: rank 0 writes the files
        return summary
    settings = {"command": "sciffusion video generate", "event": summary["event"],
                "clips": cfg.clips, "frames": cfg.frames, "fps": cfg.fps, "arch": m.arch,
                "model_step": training_steps(model.meta), "devices": cfg.devices, "num_nodes": cfg.num_nodes,
                "context": None if cfg.context is None else str(cfg.context),
                "context_frames": summary["context_frames"], "context_adapted": adapted, "denoising_gain": gain,
                **cfg.run.to_dict(model_path)}
    settings["guide"] = None if guide is None else {"path": str(cfg.guide), "steps": guide.meta.get("steps"),
                                                    "data": guide.meta.get("data")}
    if guide is None:
        settings["sampling"].update(guide_scale=None, guide_interval=None)
    if label is None:  # nothing to guide: record that no guidance was applied, whatever --guidance said
        settings["sampling"].update(guidance=None, guidance_interval=None, negative_event=None)
    else:
        settings["event_frame"] = onset  # None: every block conditioned on the event
        settings["event_frame_option"] = cfg.event_frame
        if cfg.run.sampling.negative_event is not None:
            settings["negative_event"] = EVENTS[cfg.run.sampling.negative_event]
    with atomic_path(cfg.out, overwrite=cfg.overwrite) as tmp:
        tmp.mkdir()
        for i, clip in enumerate(clips):
            writers.write_mp4(tmp / f"clip_{i:03d}.mp4", clip, cfg.fps)
            writers.write_gif(tmp / f"clip_{i:03d}.gif", clip, cfg.fps)
        begins = "" if onset is None else f" from frame {summary['context_frames'] + onset // m.frames * m.frames + 1}"
        rows = [f"clip {i}" + ("" if label is None else f" {EVENTS[label]}{begins}")
                + ("" if source is None else f" (from clip {source[i]})") for i in range(len(clips))]
        writers.write_png(tmp / "contact_sheet.png",
                          writers.labelled_contact_sheet(clips, rows, summary["context_frames"]))
        labels = {}
        if label is not None:
            asked = asked_per_frame(block_events(label, onset, cfg.frames, m.frames), m.frames, cfg.frames,
                                    summary["context_frames"])
            labels = {"event": np.full(cfg.clips, label, np.int64), "asked_event": np.tile(asked, (cfg.clips, 1))}
        if source is not None:
            labels["context_clip"] = source.astype(np.int64)
        write_video_store(tmp / "clips.zarr", clips, {"generator": "sciffusion video generate", "fps": cfg.fps,
                                                      "settings": settings}, labels or None)
        (tmp / "config.json").write_text(json.dumps(settings, indent=1) + "\n")
    return summary


__all__ = ["GenerateConfig", "batch_seed", "generate", "generation_module", "read_context"]
