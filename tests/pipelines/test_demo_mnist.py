import json

import pytest
import torch

from sciffusion.common.networks import UNet2DConfig
from sciffusion.common.training import TrainConfig
from sciffusion.pipelines.demo_mnist import MnistDemoConfig, load_mnist, run_mnist_demo

TINY = UNet2DConfig(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention=(False, True), groups=4,
                    embed_dim=16)


@pytest.mark.slow
def test_demo_end_to_end_writes_every_file(tmp_path):
    out = tmp_path / "demo"
    cfg = MnistDemoConfig(out=out, minutes=0.2, max_steps=30, samples=9, steps=4, bpd_digits=4, batch_size=16,
                          progress=False, net=TINY, train=TrainConfig(lr=2e-3))
    metrics = run_mnist_demo(cfg)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "loss.png", "metrics.json", "model.ckpt",
                                                     "samples.png"]
    assert not list(tmp_path.glob(".demo.*"))  # the temporary folder is gone
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert 1 <= saved["train_steps"] <= 30 and saved["sampler_nfe"] == 4
    assert saved["bpd"]["digits"] == 4 and 0.5 < saved["bpd"]["mean"] < 20  # 8-bit data: sane range
    config = json.loads((out / "config.json").read_text())
    assert config["net"]["base_channels"] == 8 and config["train"]["loss"] == "edm" and config["seed"] == 0
    ckpt = torch.load(out / "model.ckpt", weights_only=False)
    assert ckpt["hyper_parameters"]["config"]["lr"] == 2e-3
    with pytest.raises(FileExistsError, match="already exists"):
        run_mnist_demo(cfg)


def test_load_mnist_split():
    train, held = load_mnist()
    assert train.shape == (9000, 1, 28, 28) and held.shape == (1000, 1, 28, 28) and train.dtype == torch.uint8


@pytest.mark.parametrize("kw, match", [({"minutes": 0}, "--minutes"), ({"sampler": "nope"}, "sampler"),
                                       ({"steps": 0}, "--steps"), ({"bpd_digits": 1001}, "bpd_digits")])
def test_config_validation(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        MnistDemoConfig(out=tmp_path / "x", **kw)
