"""What ``video predict`` and ``video generate`` share: the device, the model on it, the seeded sampling
options, and frame conversions between the model's [-1, 1] tensors and uint8 stores."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from sciffusion.domains.video.sampling import SamplingConfig


@dataclass(frozen=True)
class SamplingRun:
    """model: a model file (None: the bundled one); sampling: sampler, steps, σ grid, guidance;
    seed: seeds the CPU generator of all noise; device: ``cpu``, ``cuda``, ``cuda:1``; batch_size:
    clips per sampler call; given: the names of ``sampling``'s fields the user set (None: all of them), the
    others may be replaced by the model file's recommendation (:meth:`with_model_defaults`)."""

    model: Optional[Path] = None
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    seed: int = 0
    device: str = "cpu"
    batch_size: int = 16
    given: Optional[frozenset[str]] = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"--batch-size: must be >= 1, got {self.batch_size}")

    def with_model_defaults(self, recommended: Mapping[str, Any]) -> tuple["SamplingRun", dict[str, Any]]:
        """(this run with the ``recommended`` sampling values (field name -> value) the user did not give, those
        values); unchanged when ``given`` is None."""
        if self.given is None:
            return self, {}
        taken = {k: v for k, v in recommended.items() if k not in self.given}
        return replace(self, sampling=replace(self.sampling, **taken)), taken

    def to_dict(self, model_path: Path) -> dict:
        import dataclasses

        return {"model": str(model_path), "sampling": dataclasses.asdict(self.sampling), "seed": self.seed,
                "device": self.device, "batch_size": self.batch_size}


from sciffusion.common.devices import device_of  # noqa: E402,F401  (re-exported; one home in common)


def load_model(run: SamplingRun, default: str = "smmnist"):
    """(the model file's :class:`LoadedVideoModel` with its network on ``run.device``, its path)."""
    from sciffusion.domains.video.model import read_model_file, resolve_model_path

    device = device_of(run.device)
    path = resolve_model_path(run.model, default)
    model = read_model_file(path)
    model.net.to(device)
    return model, path


__all__ = ["SamplingRun", "device_of", "load_model"]
