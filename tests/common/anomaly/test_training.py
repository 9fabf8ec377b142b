"""train_denoiser: a short fit through DiffusionModule, without Lightning's notice of the validation it
leaves out by design, and with Ctrl-C saying what happened."""
import warnings

import pytest
import torch

from sciffusion.common.anomaly.training import train_denoiser
from sciffusion.common.testing.networks import TinyDenoiserNet
from sciffusion.common.training import DiffusionModule, TrainConfig


_MLP = TinyDenoiserNet


def test_a_fit_without_validation_raises_no_lightning_notice_about_it():
    x = torch.randn(16, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, report = train_denoiser(_MLP(), x, TrainConfig(), minutes=1.0, max_steps=3, batch_size=8)
    assert report.steps == 3
    assert not [w for w in caught if "val_dataloader" in str(w.message)], [str(w.message) for w in caught]


def test_ctrl_c_during_a_fit_is_a_keyboard_interrupt_that_says_nothing_was_written(monkeypatch):
    step = DiffusionModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.global_step == 2:
            raise KeyboardInterrupt
        return step(self, batch, batch_idx)

    monkeypatch.setattr(DiffusionModule, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt, match="training interrupted at step 2; nothing written"):
        train_denoiser(_MLP(), torch.randn(16, 2), TrainConfig(), minutes=1.0, max_steps=10, batch_size=8)
