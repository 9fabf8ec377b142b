"""Which package versions made an output: one helper for every report, cache and benchmark."""
from __future__ import annotations

import importlib.metadata as metadata
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
