"""Test helpers shared by every domain: equivariance checks under rigid motions."""
from sciffusion.common.testing.equivariance import (
    DEFAULT_ATOL, KINDS, assert_equivariant, equivariance_errors, move,
)

__all__ = ["DEFAULT_ATOL", "KINDS", "assert_equivariant", "equivariance_errors", "move"]
