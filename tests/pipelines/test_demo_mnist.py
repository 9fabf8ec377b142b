import json

import pytest
import torch

from sciffusion.common.io.checkpoint import load_checkpoint
from sciffusion.common.networks import UNet2DConfig
from sciffusion.common.training import TrainConfig
from sciffusion.pipelines.demo_mnist import MnistDemoConfig, load_mnist, run_mnist_demo

TINY = UNet2DConfig(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention=(False, True), groups=4,
                    embed_dim=16)


@pytest.mark.slow
def test_demo_end_to_end_writes_every_file(tmp_path):
    out = tmp_path / "demo"
    cfg = MnistDemoConfig(out=out, minutes=5, train_steps=30, samples=9, steps=4, bpd_digits=4, batch_size=16,
                          inpaint_digits=3,
                          progress=False, net=TINY, train=TrainConfig(lr=2e-3))
    metrics = run_mnist_demo(cfg)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "inpaint.png", "loss.png", "metrics.json",
                                                     "model.ckpt", "samples.png"]
    assert not list(tmp_path.glob(".demo.*"))  # the temporary folder is gone
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["train_steps"] == 30 and saved["stopped_by"] == "steps" and saved["sampler_nfe"] == 4
    assert saved["bpd"]["digits"] == 4 and 0.5 < saved["bpd"]["mean"] < 20  # 8-bit data: sane range
    for method in ("replace", "posterior"):
        assert saved["inpaint"][method]["known_max_err"] == 0.0 and saved["inpaint"][method]["nfe"] == 4
        assert 0 < saved["inpaint"][method]["mse_unknown"] < 4  # [-1, 1] pixels
    config = json.loads((out / "config.json").read_text())
    assert config["net"]["base_channels"] == 8 and config["train"]["loss"] == "edm" and config["seed"] == 0
    ckpt = load_checkpoint(out / "model.ckpt")  # the demo's checkpoint loads weights-only
    assert ckpt["hyper_parameters"]["config"]["lr"] == 2e-3
    from sciffusion.common.networks.unet2d import UNet2D
    from sciffusion.common.training import DiffusionModule

    again = DiffusionModule.from_checkpoint(out / "model.ckpt", UNet2D(TINY))
    assert again.config.lr == 2e-3 and int(again.ema.num_updates) == saved["train_steps"]
    with pytest.raises(FileExistsError, match="already exists"):
        run_mnist_demo(cfg)


@pytest.mark.slow
def test_time_cap_stops_training_and_says_so(tmp_path):
    cfg = MnistDemoConfig(out=tmp_path / "demo", minutes=1e-6, train_steps=1000, samples=1, steps=1, bpd_digits=0,
                          inpaint_digits=0, batch_size=8, progress=False, net=TINY, train=TrainConfig(lr=2e-3))
    metrics = run_mnist_demo(cfg)
    assert metrics["stopped_by"] == "time" and metrics["train_steps"] == 1 and metrics["train_steps_budget"] == 1000
    assert sorted(p.name for p in cfg.out.iterdir()) == ["config.json", "loss.png", "metrics.json", "model.ckpt",
                                                         "samples.png"]  # no inpaint.png when skipped


def test_load_mnist_split():
    train, held = load_mnist()
    assert train.shape == (9000, 1, 28, 28) and held.shape == (1000, 1, 28, 28) and train.dtype == torch.uint8


@pytest.mark.parametrize("kw, match", [({"minutes": 0}, "--minutes"), ({"train_steps": 0}, "--train-steps"), ({"sampler": "nope"}, "sampler"),
                                       ({"steps": 0}, "--steps"), ({"bpd_digits": 1001}, "bpd_digits"),
                                       ({"inpaint_digits": -1}, "inpaint-digits")])
def test_config_validation(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        MnistDemoConfig(out=tmp_path / "x", **kw)


def test_inpaint_top_half_keeps_the_known_rows_and_uses_the_posterior():
    """With the exact denoiser of a point mass at a digit d (D ≡ d), both completions return d (the
    posterior's correction vanishes because J = 0 there); with an untrained network the known rows are
    still kept exactly and the picture is written."""
    from sciffusion.pipelines.demo_mnist import inpaint_top_half

    _, held = load_mnist()
    digits = held[:2]
    truth = digits.float() / 127.5 - 1
    cfg = MnistDemoConfig(out=None, steps=3, sampler="euler")
    point_mass = lambda x, sigma: truth + 0 * x
    res = inpaint_top_half(point_mass, digits, cfg)
    assert res["replace"]["mse_unknown"] < 1e-10 and res["posterior"]["mse_unknown"] < 1e-10
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    import tempfile, pathlib
    with tempfile.TemporaryDirectory() as d:
        res = inpaint_top_half(lambda x, sigma: net(x), digits, cfg, pathlib.Path(d) / "p.png")
        assert (pathlib.Path(d) / "p.png").stat().st_size > 1000
    assert res["posterior"]["known_max_err"] == 0 and res["replace"]["known_max_err"] == 0
