from pathlib import Path

import pytorch_lightning as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sciffusion.common.io.checkpoint import load_checkpoint
from sciffusion.common.training import (DiffusionModule, LossHistory, SigmaDistribution, TrainConfig, split_batch,
                                        split_weighted_batch)


class MLP(nn.Module):
    def __init__(self, d: int = 4, h: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d + 1, h), nn.SiLU(), nn.Linear(h, d))

    def forward(self, x_in, c_noise, cond=None):
        return self.body(torch.cat([x_in, c_noise[:, None]], dim=1))


def _trainer(steps, history, tmp_path):
    return pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[history],
                      default_root_dir=tmp_path)


def _loader():
    torch.manual_seed(1)
    data = torch.randn(16, 4) * 0.5
    return DataLoader(TensorDataset(data), batch_size=16, shuffle=False)  # one batch per epoch


def _module(loss="edm"):
    torch.manual_seed(0)
    return DiffusionModule(MLP(), TrainConfig(loss=loss, lr=5e-3, ema_decay=0.9, seed=3))


def test_resume_reproduces_the_uninterrupted_loss_curve(tmp_path):
    n = 12
    straight = LossHistory()
    _trainer(n, straight, tmp_path).fit(_module(), _loader())

    first = LossHistory()
    t1 = _trainer(n // 2, first, tmp_path)
    t1.fit(_module(), _loader())
    ckpt = tmp_path / "half.ckpt"
    t1.save_checkpoint(ckpt)

    second = LossHistory()
    fresh = DiffusionModule(MLP(), TrainConfig(loss="edm", lr=5e-3, ema_decay=0.9, seed=3))  # other init
    _trainer(n, second, tmp_path).fit(fresh, _loader(), ckpt_path=ckpt)
    resumed = first.losses + second.losses
    assert len(resumed) == len(straight.losses) == n
    diff = max(abs(a - b) for a, b in zip(resumed, straight.losses))
    assert diff < 1e-6, diff
    assert straight.losses[0] != straight.losses[1]  # the per-step draws do change


def test_checkpoint_stores_resolved_config_and_reloads(tmp_path):
    cfg = TrainConfig(loss="v", lr=1e-3, sigma=SigmaDistribution(kind="loguniform"), grad_clip=None)
    module = DiffusionModule(MLP(), cfg)
    trainer = _trainer(2, LossHistory(), tmp_path)
    trainer.fit(module, _loader())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    ckpt = load_checkpoint(tmp_path / "m.ckpt")  # weights-only: a DiffusionModule checkpoint needs nothing more
    assert ckpt["hyper_parameters"]["config"]["loss"] == "v"
    assert ckpt["hyper_parameters"]["config"]["sigma"]["kind"] == "loguniform"
    again = DiffusionModule.load_from_checkpoint(tmp_path / "m.ckpt", net=MLP())
    assert again.config == cfg
    x = torch.randn(3, 4)
    assert torch.allclose(again.denoise(x, 0.5, use_ema=True), module.denoise(x, 0.5, use_ema=True))
    ours = DiffusionModule.from_checkpoint(tmp_path / "m.ckpt", MLP())
    assert ours.config == cfg
    assert torch.allclose(ours.denoise(x, 0.5, use_ema=True), module.denoise(x, 0.5, use_ema=True))
    assert torch.allclose(ours.denoise(x, 0.5), module.denoise(x, 0.5))
    assert not torch.allclose(ours.denoise(x, 0.5), ours.denoise(x, 0.5, use_ema=True))  # both sets were restored


def test_from_checkpoint_errors_are_one_line(tmp_path):
    trainer = _trainer(1, LossHistory(), tmp_path)
    trainer.fit(_module(), _loader())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    with pytest.raises(ValueError, match=r"m.ckpt: weights do not fit this network") as info:
        DiffusionModule.from_checkpoint(tmp_path / "m.ckpt", MLP(h=8))
    assert "\n" not in str(info.value)
    torch.save({"w": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="plain.pt: not a DiffusionModule checkpoint"):
        DiffusionModule.from_checkpoint(tmp_path / "plain.pt", MLP())


@pytest.mark.parametrize("loss", ["edm", "eps", "v"])
def test_training_lowers_loss_and_samples(loss, tmp_path):
    history = LossHistory()
    module = _module(loss)
    _trainer(40, history, tmp_path).fit(module, _loader())
    first, last = sum(history.losses[:10]) / 10, sum(history.losses[-10:]) / 10
    assert last < first
    res = module.sample((5, 4), sampler="euler", steps=8, generator=torch.Generator().manual_seed(0))
    assert res.x.shape == (5, 4) and res.nfe == 8 and torch.isfinite(res.x).all()


def test_split_batch():
    x = torch.zeros(2, 3)
    assert split_batch(x)[0] is x and split_batch((x, "c"))[1] == "c"
    w = torch.ones(2, 1)
    assert split_weighted_batch((x, "c", w))[2] is w and split_weighted_batch((x, "c"))[2] is None
    assert split_batch((x, "c", w)) == (x, "c")
    with pytest.raises(ValueError, match="batch"):
        split_batch({"x": x})
    with pytest.raises(ValueError, match="loss weight"):
        split_weighted_batch((x, "c", 1.0))


def test_training_step_uses_the_batch_weight():
    module = _module("edm")
    x0 = torch.randn(4, 4)
    plain = module.training_step(x0, 0)
    same = module.training_step((x0, None, torch.ones(4, 1)), 0)
    assert torch.allclose(plain, same)
    first_only = torch.tensor([[1.0, 0, 0, 0]]).expand(4, 4)
    weighted = module.training_step((x0, None, first_only), 0)
    sigma, noise = module.step_draws(x0, 0)
    expected = module.precond.loss(module.net, x0, sigma, noise, None, first_only).mean()
    assert torch.allclose(weighted, expected) and not torch.allclose(weighted, plain)


def test_train_config_round_trip_and_validation():
    cfg = TrainConfig(loss="eps", betas=(0.8, 0.99), sigma=SigmaDistribution(p_mean=-1.0))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="unknown keys"):
        TrainConfig.from_dict({"learning_rate": 1.0})
