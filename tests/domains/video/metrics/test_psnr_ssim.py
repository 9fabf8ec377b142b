import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sciffusion.domains.video.metrics.best_of_k import reduce_samples
from sciffusion.domains.video.metrics.psnr import psnr_per_clip, psnr_per_frame
from sciffusion.domains.video.metrics.ssim import ssim_per_clip, ssim_per_frame


def _pair(channels, seed=0, shape=(6, 40, 48)):
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(np.cumsum(rng.normal(size=shape + (channels,)), axis=1), axis=2)
    a = np.clip((smooth - smooth.min()) / np.ptp(smooth) * 255, 0, 255).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    return a, b


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image_gaussian_convention(channels):
    a, b = _pair(channels)
    ours = ssim_per_frame(a, b)
    ref = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=-1) for x, y in zip(a, b)]
    assert np.abs(ours - np.array(ref)).max() < 1e-3
    assert np.abs(ours - np.array(ref)).max() < 1e-9  # in fact identical up to round-off


def test_psnr_matches_scikit_image_exactly():
    a, b = _pair(3, seed=1)
    ref = [peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(a, b)]
    np.testing.assert_allclose(psnr_per_frame(a, b), ref, rtol=0, atol=1e-12)


def test_identical_frames_give_ssim_one_and_psnr_inf():
    a, _ = _pair(1)
    np.testing.assert_allclose(ssim_per_frame(a, a), 1.0)
    assert np.isinf(psnr_per_frame(a, a)).all()


def test_clip_scores_are_means_over_frames_and_keep_leading_axes():
    a, b = _pair(1)
    clips_a, clips_b = a.reshape(2, 3, *a.shape[1:]), b.reshape(2, 3, *b.shape[1:])
    np.testing.assert_allclose(psnr_per_clip(clips_a, clips_b), psnr_per_frame(a, b).reshape(2, 3).mean(1))
    np.testing.assert_allclose(ssim_per_clip(clips_a, clips_b), ssim_per_frame(a, b).reshape(2, 3).mean(1))


def test_more_noise_lowers_both_metrics():
    a, _ = _pair(1)
    rng = np.random.default_rng(3)
    noisy = [np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8) for s in (5, 20, 60)]
    ssim = [ssim_per_frame(n, a).mean() for n in noisy]
    psnr = [psnr_per_frame(n, a).mean() for n in noisy]
    assert ssim[0] > ssim[1] > ssim[2] and psnr[0] > psnr[1] > psnr[2]


def test_shape_mismatch_and_tiny_frames_are_rejected():
    a, b = _pair(1)
    with pytest.raises(ValueError, match="shape"):
        ssim_per_frame(a, b[:, :-1])
    with pytest.raises(ValueError, match="window"):
        ssim_per_frame(a[:, :8, :8], b[:, :8, :8])


def test_best_of_k_picks_the_sample_with_best_clip_mean():
    scores = np.array([[[0.1, 0.9], [0.6, 0.6], [0.2, 0.2]]])  # N=1, K=3, T=2
    best, chosen = reduce_samples(scores, "best")
    assert chosen.tolist() == [1] and best.tolist() == [[0.6, 0.6]]
    mean, _ = reduce_samples(scores, "mean")
    np.testing.assert_allclose(mean, [[0.3, 1.7 / 3]])
    with pytest.raises(ValueError):
        reduce_samples(scores, "max")


def test_psnr_cap_only_touches_identical_frames():
    a, b = _pair(1)
    capped = psnr_per_frame(np.concatenate([a, a[:1]]), np.concatenate([b, a[:1]]), max_db=100.0)
    np.testing.assert_allclose(capped[:-1], psnr_per_frame(a, b))
    assert capped[-1] == 100.0
