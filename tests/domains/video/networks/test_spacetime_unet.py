import pytest
import torch

from sciffusion.domains.video.networks import SpaceTimeUNet, SpaceTimeUNetConfig, VideoCondition, random_block_masks

TINY = dict(base_channels=8, channel_mults=(1, 2), spatial_attention=(False, True), temporal_attention=(True, True),
            groups=4, heads=2, embed_dim=16)


def _net(**kw):
    torch.manual_seed(0)
    net = SpaceTimeUNet(SpaceTimeUNetConfig(**{**TINY, **kw})).double()
    torch.nn.init.normal_(net.head[-1].weight, std=0.1)  # the zero head would hide everything
    return net.eval()


def _x(b=2, t=3, seed=1):
    return torch.randn(b, 1, t, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("t, t_past, t_future", [(1, 0, 0), (3, 2, 0), (4, 2, 2), (6, 0, 3)])
def test_shape_for_any_frame_counts(t, t_past, t_future):
    net = _net()
    x = _x(t=t)
    cond = VideoCondition(past=_x(t=t_past, seed=2) if t_past else None, future=_x(t=t_future, seed=3) if t_future else None)
    out = net(x, torch.zeros(2, dtype=torch.float64), cond)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_masked_block_has_zero_gradient_and_no_influence():
    net = _net()
    x = _x()
    past = _x(t=2, seed=4).requires_grad_(True)
    future = _x(t=2, seed=5).requires_grad_(True)
    cond = VideoCondition(past=past, future=future, past_mask=torch.tensor([0.0, 1.0]),
                          future_mask=torch.tensor([1.0, 0.0]))
    out = net(x, torch.zeros(2, dtype=torch.float64), cond)
    out.sum().backward()
    assert torch.count_nonzero(past.grad[0]) == 0 and torch.count_nonzero(future.grad[1]) == 0  # masked
    assert torch.count_nonzero(past.grad[1]) > 0 and torch.count_nonzero(future.grad[0]) > 0  # visible
    # and a visible block does change the output
    none = net(x, torch.zeros(2, dtype=torch.float64), VideoCondition(past=past.detach() * 0, future=future.detach(),
                                                                        past_mask=torch.tensor([0.0, 0.0]),
                                                                        future_mask=torch.tensor([1.0, 0.0])))
    assert torch.allclose(none[0], out[0].detach())
    assert not torch.allclose(none[1], out[1].detach())


def test_temporal_layers_are_what_couples_frames():
    x, c = _x(t=4), torch.full((2,), 0.3, dtype=torch.float64)
    perm = torch.tensor([2, 0, 3, 1])
    x_moved = x.clone()
    x_moved[:, :, 1] += 1.0  # change frame 1 only
    for temporal in (False, True):
        net = _net(temporal=temporal)
        out, out_perm, out_moved = net(x, c), net(x[:, :, perm], c), net(x_moved, c)
        others = [0, 2, 3]
        if temporal:
            assert not torch.allclose(out[:, :, perm], out_perm, atol=1e-6)
            assert not torch.allclose(out[:, :, others], out_moved[:, :, others], atol=1e-6)
        else:  # without temporal layers: frame-wise, so permutation-equivariant and uncoupled
            assert torch.allclose(out[:, :, perm], out_perm, atol=1e-10)
            assert torch.allclose(out[:, :, others], out_moved[:, :, others], atol=1e-10)
            assert not torch.allclose(out[:, :, 1], out_moved[:, :, 1])


def test_batch_rows_are_independent():
    net = _net(num_events=3)
    x = _x(b=3)
    cond = VideoCondition(past=_x(b=3, t=2, seed=7), past_mask=torch.tensor([1.0, 0.0, 1.0]),
                          event=torch.tensor([0, 2, -1]))
    c = torch.tensor([0.1, -0.5, 1.0], dtype=torch.float64)
    whole = net(x, c, cond)
    rows = torch.cat([net(x[i:i + 1], c[i:i + 1], cond.rows(slice(i, i + 1))) for i in range(3)])
    assert torch.allclose(whole, rows, atol=1e-10)


def test_event_label_conditions_and_minus_one_is_null():
    net = _net(num_events=4)
    x, c = _x(), torch.zeros(2, dtype=torch.float64)
    a = net(x, c, VideoCondition(event=torch.tensor([1, 1])))
    assert not torch.allclose(a, net(x, c, VideoCondition(event=torch.tensor([2, 2]))))
    assert torch.allclose(net(x, c, VideoCondition(event=torch.tensor([-1, -1]))), net(x, c, None))


def test_checkpointing_gives_the_same_gradients():
    x, c = _x(), torch.zeros(2, dtype=torch.float64)
    grads = []
    for flag in (False, True):
        net = _net(checkpointing=flag).train()
        net(x, c).square().sum().backward()
        grads.append(net.stem.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-10)


def test_condition_dropout_drops_only_the_event():
    cond = VideoCondition(past=torch.ones(2, 1, 1, 4, 4), event=torch.tensor([3, 1]))
    out = cond.dropped(torch.tensor([True, False]))
    assert out.event.tolist() == [3, -1] and out.past is cond.past


def test_random_block_masks_are_independent():
    past, future = random_block_masks(4000, 0.5, 0.25, torch.Generator().manual_seed(0))
    assert abs(past.mean() - 0.5) < 0.03 and abs(future.mean() - 0.75) < 0.03
    assert abs(((1 - past) * (1 - future)).mean() - 0.125) < 0.02  # both masked: product of the rates
    with pytest.raises(ValueError, match="p_mask_past"):
        random_block_masks(2, 1.5, 0.0)


@pytest.mark.parametrize("kw, match", [({"temporal_attention": (True,)}, "temporal_attention"),
                                       ({"heads": 3}, "heads"), ({"groups": 3}, "groups")])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        SpaceTimeUNetConfig(**{**TINY, **kw})


def test_wrong_shapes_are_one_line_errors():
    net = _net()
    with pytest.raises(ValueError, match="x: expected"):
        net(torch.randn(2, 1, 8, 8, dtype=torch.float64), torch.zeros(2))
    with pytest.raises(ValueError, match="cond.past"):
        net(_x(), torch.zeros(2), VideoCondition(past=torch.zeros(2, 1, 2, 4, 4, dtype=torch.float64)))


def test_patch_size_keeps_shapes_and_frame_independence():
    x, c = _x(t=3), torch.zeros(2, dtype=torch.float64)
    net = _net(patch_size=2)
    assert net.stem.in_channels == 4 and net(x, c).shape == x.shape
    flat = _net(patch_size=2, temporal=False)
    moved = x.clone()
    moved[:, :, 0] += 1
    assert torch.allclose(flat(x, c)[:, :, 1:], flat(moved, c)[:, :, 1:], atol=1e-10)
    with pytest.raises(ValueError, match="patch_size"):
        net(torch.randn(1, 1, 2, 6, 6, dtype=torch.float64), torch.zeros(1))


def test_past_channels_stack_the_last_past_frames_under_the_mask():
    net = _net(past_channels=2, patch_size=2)
    assert net.stem.in_channels == 1 * 3 * 4
    x = _x()
    past = _x(t=3, seed=4)
    cond = VideoCondition(past=past, past_mask=torch.tensor([1.0, 0.0]))
    stacked = net.stacked_past(x, cond)
    assert stacked.shape == (2, 2, 8, 8)
    assert torch.equal(stacked[0], past[0, 0, 1:]) and torch.count_nonzero(stacked[1]) == 0
    short = net.stacked_past(x, VideoCondition(past=past[:, :, 2:]))  # one past frame: left-padded with zeros
    assert torch.count_nonzero(short[:, 0]) == 0 and torch.equal(short[:, 1], past[:, 0, 2])
    assert torch.count_nonzero(net.stacked_past(x, None)) == 0


def test_past_channels_reach_every_frame_masked_past_has_zero_gradient():
    net = _net(past_channels=1, temporal=False)  # no temporal layer: only the stacked channels carry the past
    x, c = _x(), torch.zeros(2, dtype=torch.float64)
    past = _x(t=2, seed=4).requires_grad_(True)
    out = net(x, c, VideoCondition(past=past, past_mask=torch.tensor([0.0, 1.0])))
    out.sum().backward()
    assert torch.count_nonzero(past.grad[0]) == 0  # masked
    assert torch.count_nonzero(past.grad[1, :, 1]) > 0  # the last past frame is seen ...
    assert torch.count_nonzero(past.grad[1, :, 0]) == 0  # ... the older one only through temporal layers (none here)
    other = _x(t=2, seed=9)
    moved = net(x, c, VideoCondition(past=other, past_mask=torch.tensor([0.0, 1.0])))
    assert torch.allclose(moved[0], out[0].detach())
    for frame in range(x.shape[2]):  # every frame of the current block changes with the visible past
        assert not torch.allclose(moved[1, :, frame], out[1, :, frame].detach())
    # still frame-wise without temporal layers: permuting the noisy frames permutes the output
    perm = torch.tensor([2, 0, 1])
    cond = VideoCondition(past=other)
    assert torch.allclose(net(x, c, cond)[:, :, perm], net(x[:, :, perm], c, cond), atol=1e-10)


def test_past_channels_config_checks():
    with pytest.raises(ValueError, match="past_channels"):
        SpaceTimeUNetConfig(**{**TINY, "past_channels": -1})
    from sciffusion.domains.video.model import VideoModelConfig

    with pytest.raises(ValueError, match="past_channels"):
        VideoModelConfig(past_frames=2, past_channels=3)
    with pytest.raises(ValueError, match="past_channels"):
        VideoModelConfig(arch="concat", past_channels=1)
    assert VideoModelConfig.from_dict({"past_frames": 2}).past_channels == 0  # older model files load
