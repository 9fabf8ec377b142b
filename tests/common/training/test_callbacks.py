"""TimeBudget / stop_reason say which bound ended training; StepProgressBar counts steps of the budget."""
import pytorch_lightning as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sciffusion.common.testing.networks import TinyDenoiserNet
from sciffusion.common.training import (DiffusionModule, LossHistory, StepProgressBar, TimeBudget, TrainConfig,
                                        stop_reason)


_MLP = TinyDenoiserNet


def _fit(max_steps, callbacks, progress=False):
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)  # 2 batches per epoch
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=-1, max_steps=max_steps, logger=False,
                         enable_checkpointing=False, enable_progress_bar=progress, enable_model_summary=False,
                         callbacks=callbacks)
    trainer.fit(DiffusionModule(_MLP(), TrainConfig()), loader)
    return trainer


def test_step_budget_reached_first_is_reported_as_steps():
    budget = TimeBudget(minutes=10.0)
    trainer = _fit(5, [budget])
    assert trainer.global_step == 5 and not budget.stopped and stop_reason(trainer, budget) == "steps"


def test_time_cap_reached_first_is_reported_as_time():
    budget, history = TimeBudget(minutes=1e-9), LossHistory()
    trainer = _fit(50, [budget, history])
    assert budget.stopped and stop_reason(trainer, budget) == "time"
    assert trainer.global_step == 1 == len(history.losses)  # stopped after the first step


def test_time_budget_rejects_non_positive_minutes():
    with pytest.raises(ValueError, match="minutes"):
        TimeBudget(0)


def test_step_progress_bar_counts_optimizer_steps_across_epochs():
    bar = StepProgressBar()
    _fit(7, [bar], progress=True)  # 7 steps = 4 epochs of 2 batches
    task = bar.progress.tasks[bar.train_progress_bar_id]
    assert task.total == 7 and task.completed == 7
    assert "train steps" in task.description and "Epoch" not in task.description
    assert len([t for t in bar.progress.tasks if "train" in t.description]) == 1  # one bar, not one per epoch
    # rich estimates speed from the positive increments it saw (last 30 s): the count never went back
    assert sum(sample.completed for sample in task._progress) == 7


def test_step_progress_bar_draws_on_stderr_and_leaves_stdout_to_results(capsys):
    import rich

    was_stderr = rich.get_console().stderr  # the CLI's setting, when its tests ran first
    rich.reconfigure()  # rich's default: stdout
    _fit(3, [StepProgressBar()], progress=True)
    out, err = capsys.readouterr()
    on_stderr = rich.get_console().stderr
    rich.reconfigure(stderr=was_stderr)
    assert "train steps" not in out and on_stderr  # nor does it put rich back on stdout


def test_step_progress_bar_under_a_time_budget_fills_towards_where_the_budget_stops():
    """A default step budget no run reaches (100,000) must not be the bar's total (days left): under a
    TimeBudget the total is the step the budget will stop near, at the speed so far."""
    bar, budget = StepProgressBar(), TimeBudget(minutes=0.02)
    trainer = _fit(100_000, [budget, bar], progress=True)
    task = bar.progress.tasks[bar.train_progress_bar_id]
    assert budget.stopped and task.completed == trainer.global_step
    assert task.total < 100_000 and abs(task.total - task.completed) <= max(3, 0.2 * task.completed)
    bar, budget = StepProgressBar(), TimeBudget(minutes=10.0)  # a step budget reached first stays the total
    _fit(5, [budget, bar], progress=True)
    assert bar.progress.tasks[bar.train_progress_bar_id].total == 5
