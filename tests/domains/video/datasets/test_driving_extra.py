"""The driving set without its extra: a one-line error naming it (runs whether or not highway-env is installed)."""
import sys

import pytest

from sciffusion.domains.video.datasets.driving import DrivingConfig, check_driving_installed, generate_driving


@pytest.mark.parametrize("module", ["highway_env", "pygame"])
def test_missing_driving_extra_names_the_install_command(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # import machinery: "not installed"
    with pytest.raises(ValueError, match=rf"^driving set needs {module}: pip install 'sciffusion\[driving\]'$"):
        generate_driving(DrivingConfig(episodes=1, clip_frames=1, clips_per_episode=1))


def test_check_passes_when_the_extra_is_importable():
    pytest.importorskip("highway_env")
    pytest.importorskip("pygame")
    check_driving_installed()
