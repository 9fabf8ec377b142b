"""Condition dropout in DiffusionModule (classifier-free guidance training)."""
from dataclasses import dataclass

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sciffusion.common.training import DiffusionModule, TrainConfig, drop_condition


class Recorder(nn.Module):
    """Ignores cond in its output; records every cond it is called with."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 4)
        self.seen: list[torch.Tensor] = []

    def forward(self, x_in, c_noise, cond=None):
        if cond is not None and self.training:
            self.seen.append(cond.clone())
        return self.lin(torch.cat([x_in, c_noise[:, None]], dim=1))


def _fit(p: float, steps: int = 6):
    torch.manual_seed(0)
    net = Recorder()
    module = DiffusionModule(net, TrainConfig(lr=1e-3, seed=2, cond_dropout=p))
    x = torch.randn(64, 4)
    labels = torch.arange(64) % 3
    loader = DataLoader(TensorDataset(x, labels), batch_size=64, shuffle=False)
    losses = []

    class Keep(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    pl.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False, callbacks=[Keep()]).fit(module, loader)
    return torch.cat(net.seen), losses


def test_dropout_replaces_a_fraction_of_labels_by_the_null_label():
    seen, _ = _fit(0.5)
    dropped = (seen == -1).float().mean().item()
    assert 0.35 < dropped < 0.65
    assert set(seen[seen >= 0].tolist()) == {0, 1, 2}  # kept labels are unchanged values
    none, _ = _fit(0.0)
    assert (none >= 0).all()
    everything, _ = _fit(1.0)
    assert (everything == -1).all()


def test_dropout_does_not_change_sigma_and_noise_draws():
    # the recorder ignores cond, so equal losses mean equal (sigma, noise) per step
    _, with_dropout = _fit(0.5)
    _, without = _fit(0.0)
    assert with_dropout == pytest.approx(without, abs=1e-7)


@dataclass(frozen=True)
class Pair:
    frames: torch.Tensor
    tag: str


class OwnRule:
    def __init__(self, labels):
        self.labels = labels

    def dropped(self, keep):
        return OwnRule(self.labels * keep)


def test_drop_condition_is_generic():
    keep = torch.tensor([True, False, True])
    labels = drop_condition(torch.tensor([4, 5, 6]), keep)
    assert labels.tolist() == [4, -1, 6]
    frames = drop_condition(torch.ones(3, 2, 2), keep)
    assert frames.sum(dim=(1, 2)).tolist() == [4.0, 0.0, 4.0]
    d = drop_condition({"a": torch.tensor([1, 1, 1]), "b": (torch.ones(3),)}, keep)
    assert d["a"].tolist() == [1, -1, 1] and d["b"][0].tolist() == [1.0, 0.0, 1.0]
    pair = drop_condition(Pair(torch.ones(3, 1), "x"), keep)
    assert pair.frames[:, 0].tolist() == [1.0, 0.0, 1.0] and pair.tag == "x"
    assert drop_condition(OwnRule(torch.tensor([2, 2, 2])), keep).labels.tolist() == [2, 0, 2]
    assert drop_condition(None, keep) is None
    with pytest.raises(ValueError, match="batch axis"):
        drop_condition(torch.ones(2), keep)


def test_cond_dropout_validation_and_round_trip():
    with pytest.raises(ValueError, match="cond_dropout"):
        TrainConfig(cond_dropout=1.5)
    cfg = TrainConfig(cond_dropout=0.1)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
