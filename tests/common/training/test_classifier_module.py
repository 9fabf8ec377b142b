"""NoisyClassifierModule: trained through Lightning on a two-class Gaussian mixture, its log p_σ(y | x) comes
close to the exact posterior at every noise level; unlabelled rows are ignored; a network that is not told
σ cannot fit it (negative control)."""
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from sciffusion.common.analytic import GaussianMixture
from sciffusion.common.training.classifier_module import NoisyClassifierModule, labels_are_cond
from sciffusion.common.training.config import TrainConfig
from sciffusion.common.training.losses import SigmaDistribution

MIX = GaussianMixture(torch.tensor([0.5, 0.5]), torch.tensor([[-1.0], [1.0]]), torch.tensor([0.3, 0.3]))


class _Net(nn.Module):
    def __init__(self, sees_sigma: bool):
        super().__init__()
        self.sees_sigma = sees_sigma
        self.mlp = nn.Sequential(nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 2))

    def forward(self, x_in, c_noise, cond):
        assert cond is None
        c = c_noise if self.sees_sigma else torch.zeros_like(c_noise)
        return self.mlp(torch.cat([x_in, c[:, None]], dim=1))


def _batches(n_batches=600, size=128):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n_batches):
        k = torch.randint(2, (size,), generator=g)
        x = MIX.means[k].float() + 0.3 * torch.randn(size, 1, generator=g)
        out.append((x, k))
    return out


def _exact_log_prob(x, sigma, k):
    tot = MIX.stds ** 2 + sigma.double().reshape(-1, 1) ** 2
    return torch.log_softmax(MIX._log_resp(x.double(), tot), 1)[:, k]


@pytest.mark.parametrize("sees_sigma", [True, False])
def test_learns_the_noisy_posterior(sees_sigma):
    torch.manual_seed(0)
    config = TrainConfig(lr=3e-3, lr_warmup_steps=0, ema_decay=0.9, sigma=SigmaDistribution("loguniform", sigma_min=0.05,
                                                                                            sigma_max=5.0))
    module = NoisyClassifierModule(_Net(sees_sigma), config)
    trainer = pl.Trainer(max_steps=600, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, torch.utils.data.DataLoader(_batches(), batch_size=None))
    x = torch.linspace(-2, 2, 41).reshape(-1, 1)
    errors = []
    for s in (0.1, 0.5, 1.0, 3.0):
        sigma = torch.full((41,), s)
        ours = module.log_prob(torch.ones(41, dtype=torch.long))(x, sigma).exp()
        errors.append(float((ours.double() - _exact_log_prob(x, sigma, 1).exp()).abs().mean()))
    assert (max(errors) < 0.08) == sees_sigma, errors


def test_unlabelled_rows_are_ignored_and_labels_checked():
    torch.manual_seed(0)
    module = NoisyClassifierModule(_Net(True), TrainConfig())
    x = torch.randn(4, 1)
    from sciffusion.common.training.classifier_module import noisy_logits

    loss_some, _ = module._loss(module.net, (x, torch.tensor([0, 1, -1, -1])), 0)
    sigma, noise, _, _ = module._sigma_noise_draws(x, 0)
    logits = noisy_logits(module.net, module.precond, x + sigma[:, None] * noise, sigma)
    assert torch.allclose(loss_some, torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 1])))
    loss_all, _ = module._loss(module.net, (x, torch.tensor([0, 1, 0, 0])), 0)
    assert not torch.allclose(loss_all, loss_some)
    with pytest.raises(ValueError, match="class labels"):
        labels_are_cond(torch.zeros(2, 3))
