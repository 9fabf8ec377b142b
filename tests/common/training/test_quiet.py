import logging

import pytest

from sciffusion.common.training.quiet import LIGHTNING_LOGGERS, quiet_lightning


def test_banners_are_silenced_inside_and_levels_restored_after(caplog):
    logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    root, original = logging.getLogger("pytorch_lightning"), logging.getLogger("pytorch_lightning").level
    root.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO, logger="pytorch_lightning"):
        logger.info("outside before")
        with quiet_lightning():
            logger.info("GPU available: False")
            logger.warning("a real warning")
        logger.info("outside after")
    messages = [r.getMessage() for r in caplog.records]
    assert "GPU available: False" not in messages
    assert {"outside before", "a real warning", "outside after"} <= set(messages)
    assert root.level == logging.INFO
    root.setLevel(original)


def test_levels_are_restored_when_the_block_raises():
    before = [logging.getLogger(name).level for name in LIGHTNING_LOGGERS]
    with pytest.raises(RuntimeError):
        with quiet_lightning():
            raise RuntimeError("boom")
    assert [logging.getLogger(name).level for name in LIGHTNING_LOGGERS] == before
