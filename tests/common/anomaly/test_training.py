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


class _DtypeRecorder(_MLP):
    """The tiny denoiser, noting the dtype its linear layer computes in."""

    seen: set = set()

    def forward(self, x_in, c_noise, cond=None):
        out = super().forward(x_in, c_noise, cond)
        type(self).seen.add(out.dtype)
        return out


@pytest.mark.parametrize("precision, dtype", [("32-true", torch.float32), ("bf16-mixed", torch.bfloat16)])
def test_the_fit_runs_in_the_precision_asked_and_says_so_with_float32_weights(precision, dtype):
    _DtypeRecorder.seen = set()
    net = _DtypeRecorder()
    _, report = train_denoiser(net, torch.randn(16, 2), TrainConfig(), minutes=1.0, max_steps=3, batch_size=8,
                               precision=precision)
    assert report.precision == precision and report.steps == 3
    assert _DtypeRecorder.seen == {dtype}
    assert all(p.dtype == torch.float32 for p in net.parameters())


def test_auto_precision_is_resolved_before_the_fit_and_recorded():
    _, report = train_denoiser(_MLP(), torch.randn(16, 2), TrainConfig(), minutes=1.0, max_steps=2, batch_size=8,
                               precision="auto")
    assert report.precision in ("32-true", "bf16-mixed")
