import numpy as np
import pytest

from sciffusion.domains.video.metrics.fvd import (
    cached_features, extract_features, frechet_distance, fvd_from_features, to_i3d_input)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    v1, v2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_on_full_covariances():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8)) + 0.3
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)


def test_fvd_of_a_feature_set_with_itself_is_zero_and_grows_with_shift():
    feats = np.random.default_rng(2).normal(size=(40, 400))
    assert fvd_from_features(feats, feats) < 1e-6
    shifts = [fvd_from_features(feats, feats + s) for s in (0.1, 0.5, 1.0)]
    assert shifts[0] < shifts[1] < shifts[2]


def test_i3d_input_is_rgb_224_in_unit_range():
    clips = np.random.default_rng(0).integers(0, 256, (2, 9, 64, 64, 1), dtype=np.uint8)
    x = to_i3d_input(clips)
    assert x.shape == (2, 3, 9, 224, 224)
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    with pytest.raises(ValueError, match="at least"):
        to_i3d_input(clips[:, :5])


class _CountingModel:
    """Stand-in embedding: mean pixel per channel and frame, counts its forward passes."""

    calls = 0

    def __call__(self, x):
        type(self).calls += 1
        return x.mean(dim=(3, 4)).flatten(1)


def test_features_are_batched_and_cached_on_disk(tmp_path):
    clips = np.random.default_rng(0).integers(0, 256, (5, 9, 16, 16, 3), dtype=np.uint8)
    direct = extract_features(_CountingModel(), clips, batch_size=2)
    assert _CountingModel.calls == 3 and direct.shape == (5, 27)
    first = cached_features(_CountingModel, clips, tmp_path, batch_size=2)
    calls = _CountingModel.calls
    second = cached_features(lambda: pytest.fail("model rebuilt despite cache"), clips, tmp_path)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, direct)
    assert _CountingModel.calls == calls and len(list(tmp_path.glob("i3d_*.npy"))) == 1


@pytest.mark.slow
def test_i3d_fvd_self_is_zero_and_grows_monotonically_with_noise(i3d_model):
    from sciffusion.domains.video.datasets.smmnist import SMMNISTConfig, generate_smmnist
    from sciffusion.common.data import mnist_test_paths
    from sciffusion.common.io.idx import read_idx

    video, _ = generate_smmnist(read_idx(mnist_test_paths()[0]), SMMNISTConfig(clips=3, frames=9, seed=3))
    real = extract_features(i3d_model, video, batch_size=2)
    assert fvd_from_features(real, real) < 1e-3
    rng = np.random.default_rng(0)
    values = []
    for std in (10, 40, 100):
        noisy = np.clip(video + rng.normal(0, std, video.shape), 0, 255).astype(np.uint8)
        values.append(fvd_from_features(real, extract_features(i3d_model, noisy, batch_size=2)))
    assert 0 < values[0] < values[1] < values[2], values


def test_feature_cache_is_written_atomically_and_clears_killed_runs(tmp_path):
    import subprocess
    import sys

    from sciffusion.domains.video.metrics.fvd import clips_digest

    clips = np.random.default_rng(1).integers(0, 256, (2, 9, 16, 16, 3), dtype=np.uint8)
    name = f"i3d_{clips_digest(clips)}.npy"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".{name}.{dead.pid}.x1y2.tmp").mkdir()
    feats = cached_features(_CountingModel, clips, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    np.testing.assert_array_equal(np.load(tmp_path / name), feats)
