import pytest
import torch
from torch import nn

from sciffusion.common.training import ExponentialMovingAverage


def test_ema_math_constant_target():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = ExponentialMovingAverage(model, decay=0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(5):
        ema.update(model)
    # θ_ema = 1 − 0.9^5 after 5 steps from 0 towards 1
    assert torch.allclose(ema.shadow.weight, torch.full((1, 2), 1 - 0.9**5))


def test_ema_warmup_decays():
    model = nn.Linear(1, 1, bias=False)
    ema = ExponentialMovingAverage(model, decay=0.999, warmup=True)
    decays = []
    for _ in range(3):
        decays.append(ema.current_decay())
        ema.update(model)
    assert decays == pytest.approx([1 / 10, 2 / 11, 3 / 12])
    assert int(ema.num_updates) == 3


def test_ema_tracks_running_weighted_average():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    ema = ExponentialMovingAverage(model, decay=0.5, warmup=False)
    expected = [p.detach().clone() for p in model.parameters()]
    for _ in range(4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ema.update(model)
        expected = [0.5 * e + 0.5 * p.detach() for e, p in zip(expected, model.parameters())]
    for e, p in zip(expected, ema.shadow.parameters()):
        assert torch.allclose(e, p)


def test_swapped_into_restores_training_weights():
    model = nn.Linear(2, 2)
    ema = ExponentialMovingAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    trained = model.weight.detach().clone()
    with ema.swapped_into(model):
        assert torch.allclose(model.weight, ema.shadow.weight)
        assert not torch.allclose(model.weight, trained)
    assert torch.equal(model.weight, trained)
    with pytest.raises(RuntimeError):
        with ema.swapped_into(model):
            raise RuntimeError("boom")
    assert torch.equal(model.weight, trained)


def test_ema_decay_validation():
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(nn.Linear(1, 1), decay=1.0)
