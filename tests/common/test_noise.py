import pytest
import torch

from sciffusion.common.noise import draw_device, rand, randn, randn_like

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _gen(seed: int = 3, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device).manual_seed(seed)


@pytest.mark.parametrize("draw, torch_draw", [(randn, torch.randn), (rand, torch.rand)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_numbers_as_torch_on_the_generator_device(draw, torch_draw, dtype):
    g, ref = _gen(), _gen()
    for shape in [(4, 3), (5,)]:  # consecutive draws consume the generator as torch does
        got = draw(shape, generator=g, dtype=dtype, device="cpu")
        want = torch_draw(shape, generator=ref, dtype=dtype)
        assert got.dtype == dtype and got.shape == want.shape
        assert torch.equal(got, want)


def test_lands_on_the_requested_device_after_drawing_on_the_generators():
    g, ref = _gen(), _gen()
    out = randn((2, 3), generator=g, dtype=torch.float16, device="meta")
    assert out.device.type == "meta" and out.dtype == torch.float16
    torch.randn((2, 3), generator=ref, dtype=torch.float16)
    assert torch.equal(randn(4, generator=g), torch.randn(4, generator=ref))  # g was drawn from, on the CPU


def test_without_a_generator_uses_the_devices_default_generator():
    torch.manual_seed(11)
    got = [randn((3,), dtype=torch.float64), rand(2), randn_like(torch.zeros(2, 2), None)]
    torch.manual_seed(11)
    want = [torch.randn(3, dtype=torch.float64), torch.rand(2), torch.randn(2, 2)]
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert draw_device(None, "cpu") == "cpu" and draw_device(_gen(), "meta") == torch.device("cpu")


def test_randn_like_follows_x_and_the_generator():
    x = torch.zeros(3, 2, dtype=torch.float64)
    out = randn_like(x, _gen(5))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, torch.randn(3, 2, generator=_gen(5), dtype=torch.float64))


@CUDA
def test_cpu_generator_drives_a_cuda_state_with_the_cpu_numbers():
    x = torch.zeros(64, 3, device="cuda")
    out = randn_like(x, _gen(7))
    assert out.device.type == "cuda"
    assert torch.equal(out.cpu(), torch.randn(64, 3, generator=_gen(7)))
    u = rand((5,), generator=_gen(7), dtype=torch.float64, device="cuda")
    assert u.device.type == "cuda" and torch.equal(u.cpu(), torch.rand(5, generator=_gen(7), dtype=torch.float64))


@CUDA
def test_cuda_generator_draws_on_cuda_then_moves_to_cpu():
    out = randn((8,), generator=_gen(9, "cuda"), device="cpu")
    assert out.device.type == "cpu"
    assert torch.equal(out, torch.randn(8, generator=_gen(9, "cuda"), device="cuda").cpu())
