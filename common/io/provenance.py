"""Which package versions made an output: one helper for every report, cache and benchmark."""
from __future__ import annotations

import hashlib
import importlib.metadata as metadata
from pathlib import Path
from typing import Iterable

NOT_INSTALLED = "not installed"


def package_versions(packages: Iterable[str]) -> dict[str, str]:
    """``{package: version}`` for each installed distribution name; ``"not installed"`` otherwise."""
    out = {}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = NOT_INSTALLED
    return out


def file_sha256(path: Path | str) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (model files, caches, inputs in provenance records)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
