"""Lightning's start-up banners ("GPU available: ...", "TPU available: ...", advertising tips) kept out of a
command's output while it runs a Trainer for inference or a short fit; warnings still show."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Raise Lightning's loggers to WARNING inside the block and restore their levels after it."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


__all__ = ["quiet_lightning"]
