"""Shared fixtures: the bundled CC0 example complexes."""
from __future__ import annotations

from pathlib import Path

import pytest

import sciffusion.domains.docking as docking_pkg

DATA = Path(docking_pkg.__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
