"""load_checkpoint: weights-only by default, a one-line refusal naming the file and the global, full
pickle only when trusted, one-line errors for missing, foreign and truncated files."""
import pickle

import pytest
import torch

from sciffusion.common.io.checkpoint import load_checkpoint
from sciffusion.common.training import SigmaDistribution, TrainConfig


class _TouchesMarker:
    """Unpickling this creates ``path`` (stands in for any code a foreign pickle could run)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_plain_checkpoint_loads(tmp_path):
    path = tmp_path / "ok.ckpt"
    torch.save({"state_dict": {"w": torch.arange(3.0)}, "hyper_parameters": {"config": {"lr": 1e-3}}}, path)
    ckpt = load_checkpoint(path)
    assert torch.equal(ckpt["state_dict"]["w"], torch.arange(3.0)) and ckpt["hyper_parameters"]["config"]["lr"] == 1e-3


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _TouchesMarker(marker)}, path)
    assert not marker.exists()
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: refused")
    assert "io.open" in message and "--trust-checkpoint" in message
    assert not marker.exists()  # nothing ran


def test_trusted_checkpoint_loads_with_full_pickle(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.ckpt"
    torch.save({"payload": _TouchesMarker(marker)}, path)
    ckpt = load_checkpoint(path, trust=True)
    ckpt["payload"].close()
    assert marker.exists()  # full pickle did run it: trust is what the name says


def test_raw_pickle_is_refused(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "raw.pkl"
    path.write_bytes(pickle.dumps(_TouchesMarker(marker)))
    with pytest.raises(ValueError, match=r"refused.*--trust-checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_allowed_globals_are_scoped_to_the_call(tmp_path):
    path = tmp_path / "config.ckpt"
    config = TrainConfig(lr=1e-3, sigma=SigmaDistribution(kind="loguniform"))
    torch.save({"config": config}, path)
    with pytest.raises(ValueError, match="TrainConfig"):
        load_checkpoint(path)
    assert load_checkpoint(path, allowed_globals=[TrainConfig, SigmaDistribution])["config"] == config
    with pytest.raises(ValueError, match="TrainConfig"):  # the allow-list did not leak into the process
        load_checkpoint(path)


def test_truncated_file_is_a_one_line_error(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"w": torch.zeros(100)}, good)
    path = tmp_path / "cut.ckpt"
    big = tmp_path / "big.ckpt"
    torch.save({f"w{i}": torch.randn(2000) for i in range(4)}, big)
    for source, size in ((good, 200), (big, 5000)):  # cut in the header; cut inside a stored tensor (OSError)
        path.write_bytes(source.read_bytes()[:size])
        for trust in (False, True):
            with pytest.raises(ValueError) as info:
                load_checkpoint(path, trust=trust)
            assert str(info.value).startswith(f"{path}: not a readable PyTorch checkpoint") and "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n", b"not a guide\n"])
def test_foreign_file_is_a_one_line_error(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    for trust in (False, True):  # never advice to trust a file that is no checkpoint at all
        with pytest.raises(ValueError) as info:
            load_checkpoint(path, trust=trust)
        assert str(info.value).startswith(f"{path}: not a readable") and "\n" not in str(info.value)
        assert "trust" not in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt: no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.ckpt")
    with pytest.raises(ValueError, match="is a folder"):
        load_checkpoint(tmp_path)
