"""Training precision: ``auto`` takes bf16 mixed precision only where the CPU (or GPU) computes bf16 itself;
explicit precisions pass through; anything else is a one-line error naming the option."""
import pytest
import torch

from sciffusion.common.training.precision import (PRECISIONS, autocast_enabled, autocast_off, check_precision,
                                                  cpu_has_native_bf16, full_precision, resolve_precision)

_ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n\n"
_SAPPHIRE = "flags\t\t: avx512f amx_tile amx_bf16 amx_int8\n"
_SKYLAKE = "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512dq\n"
_LOOKALIKE = "model name\t: avx512_bf16 in the name only\nflags\t\t: avx2 avx512f\n"


@pytest.mark.parametrize("text, native", [(_ZEN4, True), (_SAPPHIRE, True), (_SKYLAKE, False), (_LOOKALIKE, False)])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, text, native):
    info = tmp_path / "cpuinfo"
    info.write_text(text)
    assert cpu_has_native_bf16(info) is native


def test_an_unreadable_cpuinfo_means_no_native_bf16(tmp_path):
    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_auto_on_a_cpu_follows_its_bf16_support():
    assert resolve_precision("auto", "cpu", cpu_bf16=True) == "bf16-mixed"
    assert resolve_precision("auto", "cpu", cpu_bf16=False) == "32-true"


@pytest.mark.parametrize("precision", [p for p in PRECISIONS if p != "auto"])
def test_an_explicit_precision_is_kept_whatever_the_hardware(precision):
    assert resolve_precision(precision, "cpu", cpu_bf16=True) == precision
    assert resolve_precision(precision, "cpu", cpu_bf16=False) == precision


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match=r"--precision: must be one of auto, 32-true.*got 'bf17'"):
        check_precision("bf17", "--precision")
    with pytest.raises(ValueError, match="precision: must be one of"):
        resolve_precision("fp8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_on_a_gpu_is_bf16_where_the_gpu_supports_it():
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    assert resolve_precision("auto", "gpu") == expected


def _proper_rotation_of(a):
    """The proper orthogonal factor of a [3, 3] by SVD and determinant (no bf16 CPU kernels for either)."""
    u, _, vt = torch.linalg.svd(a)
    d = torch.sign(torch.linalg.det(u @ vt))
    rot = u @ torch.diag(torch.stack([torch.ones_like(d), torch.ones_like(d), d])) @ vt
    return rot, torch.is_autocast_enabled("cpu")


def test_full_precision_runs_decompositions_inside_a_bf16_autocast_region():
    a = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    plain, was_on = _proper_rotation_of(a)
    assert not was_on
    wrapped = full_precision(_proper_rotation_of)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert autocast_enabled()
        half = a.to(torch.bfloat16) @ torch.eye(3, dtype=torch.bfloat16)
        assert half.dtype == torch.bfloat16
        rot, inside = wrapped(half)
        matmul_after = a @ a   # autocast is back on after the call
    assert not inside and rot.dtype == torch.float32 and matmul_after.dtype == torch.bfloat16
    assert torch.allclose(rot @ rot.T, torch.eye(3), atol=1e-5)
    assert torch.allclose(rot, plain, atol=5e-2)   # the same factor, from a bf16-rounded input


def test_full_precision_is_a_plain_call_outside_autocast_and_keeps_float64():
    a = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    wrapped = full_precision(_proper_rotation_of)
    assert torch.equal(wrapped(a)[0], _proper_rotation_of(a)[0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rot, _ = wrapped(a)
    assert rot.dtype == torch.float64 and torch.equal(rot, _proper_rotation_of(a)[0])


def test_a_decomposition_under_bf16_autocast_needs_full_precision():
    """Negative control: the same function, not wrapped, fails under autocast on a bf16 input."""
    a = torch.randn(3, 3, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(RuntimeError):
        _proper_rotation_of(a)


def test_autocast_off_disables_and_restores_the_region():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with autocast_off():
            assert not autocast_enabled()
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
        assert autocast_enabled()
    assert not autocast_enabled()
