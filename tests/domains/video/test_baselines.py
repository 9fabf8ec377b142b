import numpy as np
import pytest

from sciffusion.domains.video.baselines import predict


def test_copy_last_repeats_the_last_context_frame():
    ctx = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 8, 1), dtype=np.uint8)
    pred = predict(ctx, 3, "copy-last")
    assert pred.shape == (2, 3, 8, 8, 1)
    assert all(np.array_equal(pred[:, k], ctx[:, -1]) for k in range(3))


def test_linear_extrapolation_is_exact_on_a_ramp_and_clips():
    ramp = np.stack([np.full((4, 4, 1), 10 * t, np.uint8) for t in range(5)])[None]  # 0, 10, ..., 40
    pred = predict(ramp, 3, "linear")
    np.testing.assert_array_equal(pred[0, :, 0, 0, 0], [50, 60, 70])
    steep = np.stack([np.full((4, 4, 1), v, np.uint8) for v in (100, 200)])[None]
    np.testing.assert_array_equal(predict(steep, 2, "linear")[0, :, 0, 0, 0], [255, 255])


def test_bad_method_horizon_context():
    ctx = np.zeros((1, 1, 4, 4, 1), np.uint8)
    with pytest.raises(ValueError, match="method"):
        predict(ctx, 2, "mean")
    with pytest.raises(ValueError, match="horizon"):
        predict(ctx, 0, "copy-last")
    with pytest.raises(ValueError, match="2 context"):
        predict(ctx, 2, "linear")
