"""ProductDiffusionModule: trains a product-space score through Lightning, resumes exactly, reloads.

Problem: data = one fixed point on ℝ³ × SO(3) × a ragged torus (m = 0, 1, 3 angles per sample); net: a
tiny MLP per sample (ℝ³, SO(3)) and per angle (torus), its outputs scaled by the score norms of σ(t).
"""
import math

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from sciffusion.common.io.checkpoint import load_checkpoint
from sciffusion.common.manifolds import SO3, Euclidean, ProductProcess, Ragged, RaggedShape, Torus, exp_map
from sciffusion.common.training import LossHistory, TrainConfig
from sciffusion.common.training.product_loss import ProductLossConfig
from sciffusion.common.training.product_module import (
    ProductDiffusionModule, ProductTrainConfig, split_product_batch,
)

PROC = ProductProcess({"r3": Euclidean(0.1, 3.0), "so3": SO3(0.1, 1.5), "torus": Torus(0.1, 2.0)})
B, COUNTS = 24, [(0, 1, 3)[i % 3] for i in range(24)]


class TinyScore(nn.Module):
    def __init__(self, h: int = 32):
        super().__init__()
        self.rigid = nn.Sequential(nn.Linear(3 + 9 + 1, h), nn.SiLU(), nn.Linear(h, 6))
        self.angle = nn.Sequential(nn.Linear(3, h), nn.SiLU(), nn.Linear(h, 1))

    def forward(self, state, t, cond=None):
        tor = state["torus"]
        sig = PROC.row_sigmas(state, t.double())
        out = self.rigid(torch.cat([state["r3"], state["so3"].flatten(1), t[:, None]], 1))
        feats = torch.stack([tor.values.cos(), tor.values.sin(), tor.rows(t)], 1)
        norm = {k: c.score_norm(sig[k]).to(t) for k, c in PROC.components.items()}
        return {"r3": out[:, :3] * norm["r3"][:, None], "so3": out[:, 3:] * norm["so3"][:, None],
                "torus": self.angle(feats)[:, 0] * norm["torus"]}


def batch():
    phi = torch.tensor([2.8 if j % 2 == 0 else -1.0 for m in COUNTS for j in range(m)])
    return {"r3": torch.tensor([1.0, -1.0, 0.5]).expand(B, 3).clone(),
            "so3": exp_map(torch.tensor([0.3, -0.2, 0.9])).expand(B, 3, 3).clone(),
            "torus": Ragged.from_counts(phi, COUNTS)}


def loader():
    return DataLoader([batch()], batch_size=None)  # one ready-made batch per epoch


def config(seed=3, **loss):
    return ProductTrainConfig(PROC, TrainConfig(lr=3e-3, ema_decay=0.9, seed=seed), ProductLossConfig(**loss))


def module(seed=3):
    torch.manual_seed(0)
    return ProductDiffusionModule(TinyScore(), config(seed))


def trainer(steps, history, tmp_path):
    return pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[history],
                      default_root_dir=tmp_path)


def test_training_lowers_the_loss_and_samples(tmp_path):
    history, m = LossHistory(), module()
    trainer(300, history, tmp_path).fit(m, loader())
    first, last = sum(history.losses[:30]) / 30, sum(history.losses[-30:]) / 30
    assert last < 0.6 * first, (first, last)  # measured: 2.51 -> 1.16 (zero scores: 3.0)
    res = m.sample({"r3": (5, 3), "so3": (5, 3, 3), "torus": RaggedShape((0, 2, 1, 0, 3))}, steps=4,
                   generator=torch.Generator().manual_seed(0))
    assert res.nfe == 8 and res.state["torus"].index.tolist() == [1, 1, 2, 4, 4, 4]
    assert all(torch.isfinite(v if not isinstance(v, Ragged) else v.values).all() for v in res.state.values())


def test_resume_reproduces_the_uninterrupted_loss_curve(tmp_path):
    n = 12
    straight = LossHistory()
    trainer(n, straight, tmp_path).fit(module(), loader())
    first = LossHistory()
    t1 = trainer(n // 2, first, tmp_path)
    t1.fit(module(), loader())
    t1.save_checkpoint(tmp_path / "half.ckpt")
    second = LossHistory()
    fresh = ProductDiffusionModule(TinyScore(), config())  # other init: the checkpoint must restore all
    trainer(n, second, tmp_path).fit(fresh, loader(), ckpt_path=tmp_path / "half.ckpt")
    resumed = first.losses + second.losses
    assert len(resumed) == len(straight.losses) == n
    diff = max(abs(a - b) for a, b in zip(resumed, straight.losses))
    assert diff < 1e-6, diff
    assert straight.losses[0] != straight.losses[1]
    other = LossHistory()
    trainer(2, other, tmp_path).fit(module(seed=4), loader())  # negative control: the seed matters
    assert other.losses[0] != straight.losses[0]


def test_checkpoint_stores_the_config_and_reloads_weights_only(tmp_path):
    cfg = config(ragged_mean="row", weights={"so3": 0.5})
    m = ProductDiffusionModule(TinyScore(), cfg)
    t = trainer(2, LossHistory(), tmp_path)
    t.fit(m, loader())
    t.save_checkpoint(tmp_path / "m.ckpt")
    ckpt = load_checkpoint(tmp_path / "m.ckpt")  # weights-only
    assert ckpt["hyper_parameters"]["config"]["process"]["so3"] == {"kind": "so3", "sigma_min": 0.1, "sigma_max": 1.5}
    again = ProductDiffusionModule.from_checkpoint(tmp_path / "m.ckpt", TinyScore())
    assert again.product_config == cfg
    state, tt = batch(), torch.full((B,), 0.4)
    for ema in (False, True):
        a, b = again.scores(state, tt, use_ema=ema), m.scores(state, tt, use_ema=ema)
        assert all(torch.allclose(a[k], b[k]) for k in a)
    assert not torch.allclose(again.scores(state, tt)["r3"], again.scores(state, tt, use_ema=True)["r3"])
    lit = ProductDiffusionModule.load_from_checkpoint(tmp_path / "m.ckpt", net=TinyScore())
    assert lit.product_config == cfg


def test_config_and_batch_validation():
    cfg = config(weights={"r3": 2.0})
    assert ProductTrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown components"):
        config(weights={"pos": 1.0})
    with pytest.raises(ValueError, match="unknown keys"):
        ProductTrainConfig.from_dict({"process": PROC.to_dict(), "optimizer": {}})
    state = batch()
    assert split_product_batch(state)[1] is None and split_product_batch((state, "g"))[1] == "g"
    with pytest.raises(ValueError, match="batch"):
        split_product_batch(torch.zeros(3))
    m = module()
    with pytest.raises(ValueError, match=r"scores\['torus'\]"):
        m.loss(lambda s, t, c: {"r3": s["r3"], "so3": s["r3"], "torus": torch.zeros(B, 3)}, state, None,
               torch.Generator().manual_seed(0))
    assert math.isfinite(float(m.loss(m.net, state, None, torch.Generator().manual_seed(0)).total.detach()))
