"""Training precision: ``auto`` takes bf16 mixed precision only where the CPU (or GPU) computes bf16 itself;
explicit precisions pass through; anything else is a one-line error naming the option."""
import pytest
import torch

from sciffusion.common.training.precision import (PRECISIONS, check_precision, cpu_has_native_bf16,
                                                  resolve_precision)

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
