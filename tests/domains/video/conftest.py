"""Shared paths for the video tests: the shared data folder (skipped when absent) and the bundled clip."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED_VIDEO = REPO.parent / "shared" / "data" / "video"
LANE_MP4 = SHARED_VIDEO / "udacity_driving" / "udacity_lanelines_solidWhiteRight.mp4"
VEHICLE_MP4 = SHARED_VIDEO / "udacity_driving" / "udacity_vehicledetection_test_video.mp4"
BUNDLED_CLIP = REPO / "domains" / "video" / "data" / "udacity_lane_clip.mp4"


@pytest.fixture
def i3d_weights():
    from sciffusion.domains.video.metrics.i3d import default_weights_path

    path = default_weights_path()
    if not path.is_file():
        pytest.skip(f"I3D weights not found at {path} (set SCIFFUSION_I3D_WEIGHTS)")
    return path


@pytest.fixture(scope="session")
def i3d_model():
    from sciffusion.domains.video.metrics.i3d import default_weights_path, load_i3d

    path = default_weights_path()
    if not path.is_file():
        pytest.skip(f"I3D weights not found at {path} (set SCIFFUSION_I3D_WEIGHTS)")
    return load_i3d(path)


@pytest.fixture
def lane_mp4():
    if not LANE_MP4.is_file():
        pytest.skip(f"{LANE_MP4} not found (shared Udacity clips absent)")
    return LANE_MP4
