import subprocess
import sys

import numpy as np
import pytest
import torch

from sciffusion.domains.video.datamodule import VideoDataConfig, VideoDataModule, to_uint8, to_unit_range
from sciffusion.domains.video.events import EVENTS, event_index, window_event
from sciffusion.domains.video.zarr_store import write_video_store


def _store(path, n=12, t=10, split=None, episodes=None, cut_in_clip=None):
    video = np.zeros((n, t, 8, 8, 1), np.uint8)
    video[:, :, 0, 0, 0] = np.arange(t, dtype=np.uint8)[None] * 10  # frame index readable from pixel (0, 0)
    video[:, :, 0, 1, 0] = np.arange(n, dtype=np.uint8)[:, None]  # clip index from pixel (0, 1)
    labels = {name: np.zeros((n, t), np.uint8) for name in ("ego_collision", "cut_in", "near_miss")}
    if cut_in_clip is not None:
        labels["cut_in"][cut_in_clip, 7] = 1
    if episodes is not None:
        labels["episode"] = np.repeat(np.asarray(episodes)[:, None], t, axis=1)
    attrs = {"fps": 10.0, **({"split": split} if split else {})}
    write_video_store(path, video, attrs, labels)
    return path


def _frame_index(x):  # x [..., C, T, H, W] in [-1, 1] -> frame numbers [..., T]
    return (to_uint8(x)[..., 0, 0, 0].long() // 10)


def test_unit_range_round_trip():
    frames = torch.randint(0, 256, (2, 3, 4, 4, 3), dtype=torch.uint8)
    x = to_unit_range(frames)
    assert x.shape == (2, 3, 3, 4, 4) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(to_uint8(x), frames)


def test_windows_random_crops_and_fixed_val(tmp_path):
    store = _store(tmp_path / "s.zarr", n=20, t=10)
    dm = VideoDataModule(VideoDataConfig(train=store, past_frames=2, frames=3, future_frames=1, batch_size=4,
                                         val_every=5))
    dm.setup()
    starts = {int(_frame_index(dm.train_set[0][0])[0]) for _ in range(40)}
    assert len(starts) > 1 and starts <= set(range(0, 10 - 6 + 1))  # random start in [0, T - L]
    x0, cond = next(iter(dm.train_dataloader()))
    assert x0.shape == (4, 1, 3, 8, 8) and cond.past.shape == (4, 1, 2, 8, 8) and cond.future.shape == (4, 1, 1, 8, 8)
    # past, current and future are consecutive frames of one window
    f_past, f_cur, f_fut = _frame_index(cond.past), _frame_index(x0), _frame_index(cond.future)
    assert torch.equal(f_cur[:, 0], f_past[:, 1] + 1) and torch.equal(f_fut[:, 0], f_cur[:, -1] + 1)
    vx, vcond = next(iter(dm.val_dataloader()))
    assert (_frame_index(vx)[:, 0] == 2).all() and (vcond.past_mask == 1).all()  # val: start 0, all visible
    train_clips = set(dm.train_set.clips)
    assert set(dm.val_set.clips) == {0, 5, 10, 15} and not train_clips & set(dm.val_set.clips)


def test_split_by_episode(tmp_path):
    episodes = [0, 0, 1, 1, 2, 2, 3, 3]
    dm = VideoDataModule(VideoDataConfig(train=_store(tmp_path / "d.zarr", n=8, episodes=episodes), val_every=2))
    dm.setup()
    assert dm.val_set.clips == [0, 1, 4, 5] and dm.train_set.clips == [2, 3, 6, 7]  # whole episodes held out


def test_test_split_is_refused_and_short_clips_named(tmp_path):
    with pytest.raises(ValueError, match="test-split store"):
        VideoDataModule(VideoDataConfig(train=_store(tmp_path / "t.zarr", split="test"))).setup()
    with pytest.raises(ValueError, match=r"s.zarr: 10 frames per clip, need at least"):
        VideoDataModule(VideoDataConfig(train=_store(tmp_path / "s.zarr"), frames=9, past_frames=2)).setup()


def test_masks_are_drawn_independently():
    from sciffusion.domains.video.datamodule import WindowCollate

    cfg = VideoDataConfig(train="unused.zarr", past_frames=1, frames=1, future_frames=1, p_mask_past=0.5,
                          p_mask_future=0.5)
    torch.manual_seed(0)
    items = [(torch.zeros(1, 3, 2, 2), 0)] * 2000
    _, cond = WindowCollate(cfg, mask=True)(items)
    both = ((cond.past_mask == 0) & (cond.future_mask == 0)).float().mean()
    assert abs(cond.past_mask.mean() - 0.5) < 0.04 and abs(both - 0.25) < 0.04


def test_change_weight_marks_moving_pixels_in_training_only():
    from sciffusion.domains.video.datamodule import WindowCollate

    window = torch.full((1, 4, 4, 4), -1.0)  # [C, L, H, W]: a still scene, past 2 + current 2
    window[0, 3, 1, 2] = 1.0  # an object appears in the last current frame
    cfg = VideoDataConfig(train="unused.zarr", past_frames=2, frames=2, change_weight=9.0)
    x0, cond, weight = WindowCollate(cfg, mask=True)([(window, 0)])
    assert weight.shape == (1, 1, 2, 4, 4)
    assert weight[0, 0, 1, 1, 2] == 10.0 and weight.sum() == 10.0 + 31  # 1 + w there, 1 elsewhere
    assert len(WindowCollate(cfg, mask=False)([(window, 0)])) == 2  # validation: the plain loss
    plain = VideoDataConfig(train="unused.zarr", past_frames=2, frames=2)
    assert len(WindowCollate(plain, mask=True)([(window, 0)])) == 2  # off by default: no weight
    no_past = VideoDataConfig(train="unused.zarr", past_frames=0, frames=4, change_weight=1.0)
    _, _, w = WindowCollate(no_past, mask=True)([(window, 0)])
    assert w[0, 0, 3, 1, 2] == 2.0 and w.sum() == 64 + 1  # against the block's own first frame
    with pytest.raises(ValueError, match="change_weight"):
        VideoDataConfig(train="unused.zarr", change_weight=-1.0)


def test_window_events_and_balanced_sampling(tmp_path):
    store = _store(tmp_path / "e.zarr", n=10, t=10, cut_in_clip=3)
    dm = VideoDataModule(VideoDataConfig(train=store, past_frames=1, frames=2, events=True, balance_events=True,
                                         val_every=100, val=_store(tmp_path / "v.zarr", n=2)))
    dm.setup()
    assert dm.train_weights[3] == pytest.approx(1.0) and dm.train_weights[0] == pytest.approx(1 / 9)
    events = {}
    for _ in range(60):
        x, e = dm.train_set[3]
        events[int(_frame_index(x)[0])] = e
    for start, e in events.items():  # the cut-in is on frame 7: windows [start, start + 3) covering it
        assert e == (EVENTS.index("cut_in") if start <= 7 < start + 3 else 0)
    # balanced: the event clip's window starts where frame 7 is in the generated block [start + 1, start + 3)
    assert set(events) == {5, 6}
    normal_starts = {int(_frame_index(dm.train_set[0][0])[0]) for _ in range(60)}
    assert len(normal_starts) > 2  # normal clips keep random crops in time
    assert window_event({"ego_collision": np.array([0, 1]), "near_miss": np.array([1, 1])}, 0, 2) == 1
    assert event_index("collision") == 1
    with pytest.raises(ValueError, match="--event"):
        event_index("explosion")


def test_balanced_sampling_balances_window_labels(tmp_path):
    # one-frame events, as make-driving writes them: a random window start would miss them most of the time
    n, t = 40, 20
    video = np.zeros((n, t, 8, 8, 1), np.uint8)
    labels = {name: np.zeros((n, t), np.uint8) for name in ("ego_collision", "cut_in", "near_miss")}
    labels["ego_collision"][0, 15] = labels["ego_collision"][1, 0] = 1  # clip 1: event inside the past block only
    labels["cut_in"][2, 9] = 1
    write_video_store(tmp_path / "b.zarr", video, {"fps": 10.0}, labels)
    val = _store(tmp_path / "v.zarr", n=2)

    def label_shares(balance: bool) -> np.ndarray:
        cfg = VideoDataConfig(train=tmp_path / "b.zarr", val=val, past_frames=2, frames=4, events=True,
                              balance_events=balance, batch_size=8)
        dm = VideoDataModule(cfg)
        dm.setup()
        torch.manual_seed(0)
        got = []
        for _ in range(15):  # epochs of 40 windows
            for _, cond in dm.train_dataloader():
                got += cond.event.tolist()
        return np.bincount(got, minlength=4) / len(got), dm

    shares, dm = label_shares(True)
    assert shares[EVENTS.index("ego_collision")] > 0.25 and shares[EVENTS.index("cut_in")] > 0.25  # 1/3 each
    assert dm.train_set.starts[0] == [10, 11, 12, 13] and dm.train_set.starts[1] == [0]  # past-only fallback
    unbalanced, _ = label_shares(False)  # negative control: 3 event clips in 40
    assert unbalanced[0] > 0.85


def test_training_side_imports_only_torch_and_zarr():
    # beyond what torch, zarr and Lightning import themselves, the data module pulls in no decoder,
    # simulator, image or table library
    code = ("import sys, torch, zarr, pytorch_lightning; before = set(sys.modules); "
            "import sciffusion.domains.video.datamodule; new = set(sys.modules) - before; "
            "print(sorted(m for m in new if m.split('.')[0] in "
            "('PIL', 'decord', 'av', 'highway_env', 'gymnasium', 'pandas', 'matplotlib', 'imageio', 'cv2', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_plain_grey_store_without_a_channel_axis_trains_as_one_channel(tmp_path):
    """A user's zarr of grey clips uint8 [N, T, H, W] (no sciffusion attrs): windows come out as [C=1, T, H, W],
    the same frames as the store's."""
    import zarr

    video = np.zeros((8, 10, 8, 8), np.uint8)
    video[:, :, 0, 0] = np.arange(10, dtype=np.uint8)[None] * 10
    group = zarr.open_group(str(tmp_path / "grey.zarr"), mode="w")
    group.create_array("video", shape=video.shape, chunks=(1, 10, 8, 8), dtype="uint8")[...] = video
    dm = VideoDataModule(VideoDataConfig(train=tmp_path / "grey.zarr", past_frames=2, frames=3, batch_size=2,
                                         val_every=4))
    dm.setup()
    assert dm.frame_shape == (1, 8, 8)
    x0, cond = next(iter(dm.train_dataloader()))
    assert x0.shape == (2, 1, 3, 8, 8) and cond.past.shape == (2, 1, 2, 8, 8)
    assert torch.equal(_frame_index(x0)[:, 0], _frame_index(cond.past)[:, 1] + 1)
