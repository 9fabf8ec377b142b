"""The common score type: per-frame scores of clips, their fallback and how batches and parts join them."""
import pytest
import torch

from sciffusion.common.anomaly.features import AnomalyScores, cat_batches, concat_scores, frame_scores


def _scores(b, names=("a",), map=None, frames=None):
    return AnomalyScores(torch.zeros(b, len(names), dtype=torch.float64), names, torch.zeros(b), 1, map, frames)


def test_frame_scores_are_the_scores_own_else_the_mean_of_a_clip_map():
    g = torch.Generator().manual_seed(0)
    clip_map = torch.rand(3, 5, 4, 4, generator=g)
    assert torch.allclose(frame_scores(_scores(3, map=clip_map)), clip_map.mean((2, 3)))
    own = torch.rand(3, 5, generator=g)
    assert frame_scores(_scores(3, map=clip_map, frames=own)) is own  # a score's own frame scores win
    assert frame_scores(_scores(3, map=torch.rand(3, 4, 4, generator=g))) is None  # image maps have no frames
    assert frame_scores(_scores(3)) is None
    with pytest.raises(ValueError, match="frames: need"):
        _scores(3, frames=torch.rand(2, 5))  # one row per input
    with pytest.raises(ValueError, match="frames: need"):
        _scores(3, frames=torch.rand(3))


def test_batches_and_parts_carry_the_frame_scores():
    g = torch.Generator().manual_seed(1)
    maps, frames = torch.rand(4, 5, 2, 2, generator=g), torch.rand(4, 5, generator=g)
    joined = cat_batches([_scores(2, map=maps[:2], frames=frames[:2]), _scores(2, map=maps[2:], frames=frames[2:])])
    assert torch.equal(joined.frames, frames) and torch.equal(joined.map, maps)
    assert cat_batches([_scores(2, map=maps[:2], frames=frames[:2]), _scores(2, map=maps[2:])]).frames is None
    # side by side: the mean of the parts' frame scores, a map-only part counting by its map's mean
    both = concat_scores([_scores(4, ("a",), map=maps, frames=frames), _scores(4, ("b",), map=maps)])
    assert torch.allclose(both.frames, (frames + maps.mean((2, 3))) / 2)
    assert concat_scores([_scores(4, ("a",), map=maps), _scores(4, ("b",), map=maps)]).frames is None
