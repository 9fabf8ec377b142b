"""Synthetic driving clips with rare-event labels, from highway-env (Leurent 2018, MIT; ``highway-v0``).

Data-collection policy: the ego car is an ``IDMVehicle`` (IDM longitudinal control, MOBIL lane
changes), like the traffic around it. Small seeded perturbations make events rare and controllable:
at each step, with probability ``perturb``, one of

* the ego or a vehicle within 60 m is forced into an adjacent lane (no MOBIL safety check),
* the ego's or that vehicle's target speed is moved by N(0, 4²) m/s (clipped to [15, 35]).

One frame per simulation tick (``policy_frequency == simulation_frequency == fps``); frames are rendered
(rgb_array, headless; do not set ``SDL_VIDEODRIVER=dummy``, it renders black) at 3× the output size and
resized with PIL bilinear to ``size × size``. Everything is deterministic given ``seed``.

Per-frame labels (uint8 [N, T]) from the simulator state, see ``docs/video.md``:

* ``ego_collision``: onset, the frame where the ego's ``crashed`` flag turns on.
* ``other_collision``: onset of a collision between two non-ego vehicles in view (newly crashed non-ego
  vehicles drawn in the frame, minus the one nearest the ego when the ego crashes in the same step).
  Before session 8 a collision anywhere on the road counted: 7 of the 12 in the 200-episode test store
  happened outside the 50 m view and left no trace in the frames.
* ``cut_in``: onset, a non-ego vehicle enters the ego lane 0-30 m ahead (centre to centre) while the
  ego keeps its lane.
* ``near_miss``: state, the ego is not crashed and the time-to-collision with the vehicle ahead in
  its lane, gap / closing speed (gap = centre distance − one car length), is in (0, 2) s, that vehicle
  in view.

Besides the events, one state label that is no event: ``crash_in_view``, a crashed vehicle (the ego
included) is drawn in the frame. The simulation runs on after a crash, so later frames show the wreck;
anomaly benchmarks leave such frames out of "normal traffic".
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

LABELS = ("ego_collision", "other_collision", "cut_in", "near_miss")
SIZES = (64, 128)
RENDER_FACTOR = 3
VIEW_M = 50.0  # metres across the rendered frame
EGO_AT = 0.35  # the ego is drawn this fraction of the frame from its left (rear) edge ("centering_position")
STATES = ("crash_in_view",)
CUT_IN_RANGE_M = 30.0
NEAR_MISS_TTC_S = 2.0
PERTURB_RANGE_M = 60.0
EXTRA_MODULES = ("highway_env", "gymnasium", "pygame")  # the ``driving`` extra and what it pulls in


@dataclass(frozen=True)
class DrivingConfig:
    """episodes: simulated episodes; each gives ``clips_per_episode`` consecutive clips of ``clip_frames``
    frames at ``fps`` Hz; size: 64 or 128 px; perturb: per-step perturbation probability."""

    episodes: int = 8
    size: int = 64
    seed: int = 0
    clip_frames: int = 20
    clips_per_episode: int = 4
    fps: int = 10
    perturb: float = 0.3
    vehicles: int = 30
    lanes: int = 4

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"--episodes: must be >= 1, got {self.episodes}")
        if self.size not in SIZES:
            raise ValueError(f"--size: must be one of {SIZES}, got {self.size}")
        if self.clip_frames < 1 or self.clips_per_episode < 1:
            raise ValueError(f"--clip-frames/--clips-per-episode: must be >= 1, got {self.clip_frames}/{self.clips_per_episode}")
        if not 1 <= self.fps <= 30:
            raise ValueError(f"--fps: must be in [1, 30], got {self.fps}")
        if not 0.0 <= self.perturb <= 1.0:
            raise ValueError(f"--perturb: must be in [0, 1], got {self.perturb}")
        if self.vehicles < 1 or self.lanes < 2:
            raise ValueError(f"vehicles/lanes: need >= 1 vehicle and >= 2 lanes, got {self.vehicles}/{self.lanes}")

    @property
    def frames_per_episode(self) -> int:
        return self.clip_frames * self.clips_per_episode


def check_driving_installed() -> None:
    """Raise a one-line ValueError naming the ``driving`` extra when highway-env or pygame is missing."""
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"driving set needs {', '.join(missing)}: pip install 'sciffusion[driving]'")


def make_env(cfg: DrivingConfig):
    """A ``highway-v0`` env with one frame per simulation tick, rendering rgb_array at 3× ``size``."""
    import gymnasium as gym
    import highway_env  # noqa: F401  (registers the envs)

    if not os.environ.get("XDG_RUNTIME_DIR"):  # silence SDL's "XDG_RUNTIME_DIR is invalid" on headless hosts
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="sciffusion-xdg-")

    side = cfg.size * RENDER_FACTOR
    return gym.make("highway-v0", render_mode="rgb_array", config={
        "simulation_frequency": cfg.fps, "policy_frequency": cfg.fps, "duration": 10 ** 6,
        "vehicles_count": cfg.vehicles, "lanes_count": cfg.lanes, "screen_width": side, "screen_height": side,
        "scaling": side / VIEW_M, "centering_position": [EGO_AT, 0.5], "offscreen_rendering": True,
        "show_trajectories": False, "render_agent": True})


def _install_idm_ego(env):
    from highway_env.vehicle.behavior import IDMVehicle
    from highway_env.vehicle.graphics import VehicleGraphics

    u = env.unwrapped
    old = u.vehicle
    ego = IDMVehicle.create_from(old)
    ego.color = VehicleGraphics.EGO_COLOR
    u.road.vehicles[u.road.vehicles.index(old)] = ego
    u.controlled_vehicles = [ego]
    return ego


def _perturb(u, ego, rng: np.random.Generator) -> None:
    """One seeded perturbation: a forced lane change or a target-speed change, to the ego or a neighbour."""
    others = [v for v in u.road.vehicles if v is not ego and not v.crashed
              and abs(ego.lane_distance_to(v)) < PERTURB_RANGE_M]
    target = ego if (not others or rng.random() < 0.4) else others[int(rng.integers(len(others)))]
    if rng.random() < 0.5:
        lanes = [idx for idx in u.road.network.side_lanes(target.lane_index)]
        if lanes:
            target.target_lane_index = lanes[int(rng.integers(len(lanes)))]
    else:
        target.target_speed = float(np.clip(target.target_speed + rng.normal(0.0, 4.0), 15.0, 35.0))


def in_view(ego, vehicle) -> bool:
    """Whether ``vehicle`` is drawn in the frame: its body overlaps the window of ``VIEW_M`` metres
    around the ego (``EGO_AT`` of it behind the ego, the rest ahead; highway-v0's road runs along x)."""
    dx = float(vehicle.position[0] - ego.position[0])
    dy = float(vehicle.position[1] - ego.position[1])
    half = vehicle.LENGTH / 2
    return -EGO_AT * VIEW_M - half < dx < (1 - EGO_AT) * VIEW_M + half and abs(dy) < VIEW_M / 2 + half


def _front_ttc(u, ego) -> float:
    front, _ = u.road.neighbour_vehicles(ego, ego.lane_index)
    if front is None or not in_view(ego, front):
        return np.inf
    gap = ego.lane_distance_to(front) - (ego.LENGTH + front.LENGTH) / 2
    closing = ego.speed - front.speed
    if gap <= 0 or closing <= 0:
        return np.inf
    return gap / closing


def simulate_episode(cfg: DrivingConfig, episode: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run one episode -> frames uint8 [T, size, size, 3] and labels name -> uint8 [T]."""
    env = make_env(cfg)
    try:
        env_seed = int(np.random.SeedSequence([cfg.seed, episode]).generate_state(1)[0] % (2 ** 31))
        env.reset(seed=env_seed)
        rng = np.random.default_rng([cfg.seed, episode, 1])
        u = env.unwrapped
        ego = _install_idm_ego(env)
        n = cfg.frames_per_episode
        frames = np.empty((n, cfg.size, cfg.size, 3), np.uint8)
        labels = {name: np.zeros(n, np.uint8) for name in LABELS + STATES}
        crashed_before = {id(v) for v in u.road.vehicles if v.crashed}
        lane_before = {id(v): v.lane_index[2] for v in u.road.vehicles}
        for t in range(n):
            if rng.random() < cfg.perturb:
                _perturb(u, ego, rng)
            ego_lane_before = ego.lane_index[2]
            u.step(1)  # the action is ignored: the IDM ego drives itself
            frame = u.render()
            frames[t] = np.asarray(Image.fromarray(frame).resize((cfg.size, cfg.size), Image.BILINEAR))
            crashed_now = {id(v) for v in u.road.vehicles if v.crashed}
            new = [v for v in u.road.vehicles if v.crashed and id(v) not in crashed_before and v is not ego]
            if ego.crashed and id(ego) not in crashed_before:
                labels["ego_collision"][t] = 1
                if new:
                    new.remove(min(new, key=lambda v: np.linalg.norm(v.position - ego.position)))
            if any(in_view(ego, v) for v in new):
                labels["other_collision"][t] = 1
            if any(v.crashed and in_view(ego, v) for v in u.road.vehicles):
                labels["crash_in_view"][t] = 1
            ego_lane = ego.lane_index[2]
            if ego_lane == ego_lane_before:
                for v in u.road.vehicles:
                    if v is ego or v.crashed:
                        continue
                    prev = lane_before.get(id(v))
                    if prev is not None and prev != ego_lane and v.lane_index[2] == ego_lane \
                            and 0.0 < ego.lane_distance_to(v) < CUT_IN_RANGE_M:
                        labels["cut_in"][t] = 1
            if not ego.crashed and _front_ttc(u, ego) < NEAR_MISS_TTC_S:
                labels["near_miss"][t] = 1
            crashed_before = crashed_now
            lane_before = {id(v): v.lane_index[2] for v in u.road.vehicles}
        return frames, labels
    finally:
        env.close()


def generate_driving(cfg: DrivingConfig, progress: Callable[[int], None] | None = None
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """All episodes -> video uint8 [N, T, S, S, 3] (N = episodes · clips_per_episode, T = clip_frames) and
    labels: the four event labels and the ``crash_in_view`` state uint8 [N, T], ``episode`` and
    ``start_frame`` int64 [N]."""
    check_driving_installed()
    clips, labels = [], {name: [] for name in LABELS + STATES}
    for ep in range(cfg.episodes):
        frames, ep_labels = simulate_episode(cfg, ep)
        clips.append(frames.reshape(cfg.clips_per_episode, cfg.clip_frames, *frames.shape[1:]))
        for name in LABELS + STATES:
            labels[name].append(ep_labels[name].reshape(cfg.clips_per_episode, cfg.clip_frames))
        if progress is not None:
            progress(1)
    out = {name: np.concatenate(v) for name, v in labels.items()}
    out["episode"] = np.repeat(np.arange(cfg.episodes), cfg.clips_per_episode)
    out["start_frame"] = np.tile(np.arange(cfg.clips_per_episode) * cfg.clip_frames, cfg.episodes)
    return np.concatenate(clips), out


def class_balance(labels: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per event label: positive frames, their fraction, clips with at least one positive frame, fraction."""
    out = {}
    for name in LABELS:
        arr = np.asarray(labels[name])
        out[name] = {"frames": int(arr.sum()), "frame_fraction": float(arr.mean()),
                     "clips": int(arr.any(axis=1).sum()), "clip_fraction": float(arr.any(axis=1).mean())}
    return out
