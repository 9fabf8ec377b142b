"""Training: losses (edm/eps/v), EMA, the shared DiffusionModule and callbacks."""
from sciffusion.common.training.callbacks import LossHistory, StepProgressBar, StopReason, TimeBudget, stop_reason
from sciffusion.common.training.classifier_module import NoisyClassifierModule, noisy_logits
from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.ema import ExponentialMovingAverage
from sciffusion.common.training.losses import LOSS_KINDS, Preconditioning, SigmaDistribution, edm_weight
from sciffusion.common.training.module import DiffusionModule, TrainedNetModule, drop_condition, split_batch, split_weighted_batch

__all__ = ["DiffusionModule", "TrainedNetModule", "ExponentialMovingAverage", "LOSS_KINDS", "LossHistory", "NoisyClassifierModule", "Preconditioning",
           "SigmaDistribution", "StepProgressBar", "StopReason", "TimeBudget", "TrainConfig", "edm_weight",
           "drop_condition", "noisy_logits", "split_batch", "split_weighted_batch", "stop_reason"]
