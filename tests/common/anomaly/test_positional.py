"""Per-position Gaussians (PaDiM-style): pooling, running statistics and Mahalanobis distances against
closed forms, and a thing in the wrong place that only the position feature sees (negative controls)."""
import numpy as np
import pytest
import torch
from torch import nn

from sciffusion.common.anomaly import CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, ScoreConfig
from sciffusion.common.anomaly.embedding import FeatureBank, build_bank, feature_knn
from sciffusion.common.anomaly.features import frame_scores
from sciffusion.common.anomaly.networks import DenoiserNetConfig
from sciffusion.common.anomaly.positional import (POSITION_REG, PositionGaussians, PositionStatistics,
                                                  frames_as_inputs, mahalanobis_map, pixel_neighbourhoods, pooled_grid,
                                                  pooled_positions)


def test_pooling_halves_space_until_few_enough_positions():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    out = pooled_positions(x, max_positions=16)
    assert out.shape == (2, 3, 16)
    assert torch.allclose(out, nn.functional.avg_pool2d(x, 2).flatten(2).float())
    assert pooled_positions(x, max_positions=64).shape == (2, 3, 64)  # few enough: untouched
    clips = torch.randn(1, 2, 3, 8, 8)
    per_frame = pooled_positions(clips, max_positions=16)  # frames are kept apart, space pooled
    assert per_frame.shape == (1, 2, 3, 16)
    assert torch.allclose(per_frame[:, :, 1], pooled_positions(clips[:, :, 1], max_positions=16))
    assert pooled_grid(8, 8, 16) == (4, 4) and pooled_grid(8, 6, 16) == (4, 3) and pooled_grid(6, 6, 4) == (3, 3)
    maps = torch.randn(2, 3, 4, 5, 6)  # [B, L, D, T, P]
    flat = frames_as_inputs(maps)
    assert flat.shape == (10, 3, 4, 6) and torch.equal(flat[1 * 5 + 2], maps[1, :, :, 2])
    assert frames_as_inputs(maps[:, :, :, 0]) is not None and frames_as_inputs(maps[:, :, :, 0]).shape == (2, 3, 4, 6)
    with pytest.raises(ValueError, match="feature map"):
        pooled_positions(torch.randn(2, 3))


def test_pixel_neighbourhoods_are_the_pooled_pixels_around_each_place_and_their_change():
    clips = torch.randn(2, 3, 4, 8, 8, dtype=torch.float64)  # [B, C, T, H, W]
    out = pixel_neighbourhoods(clips, max_positions=16)  # pooled to 4 x 4
    assert out.shape == (2, 2 * 3 * 9, 3, 16)  # [B, D, T - 1, P]
    pooled = nn.functional.avg_pool2d(clips.transpose(1, 2).reshape(8, 3, 8, 8), 2).reshape(2, 4, 3, 4, 4)
    centre = [c * 9 + 4 for c in range(3)]  # the middle of each channel's 3 x 3 window
    assert torch.allclose(out[:, centre, 0], pooled[:, 1].flatten(2).float(), atol=1e-6)  # frame 1 (frame 0 has no change)
    assert torch.allclose(out[:, [27 + i for i in centre], 1], (pooled[:, 2] - pooled[:, 1]).flatten(2).float(), atol=1e-6)
    assert torch.all(out[:, 0, :, 0] == 0)  # the top-left neighbour of the top-left place lies outside: zero
    still = pixel_neighbourhoods(clips, max_positions=16, motion=False)
    assert still.shape == (2, 27, 4, 16) and torch.equal(still[:, :, 1:], out[:, :27])
    images = pixel_neighbourhoods(clips[:, :, 0], max_positions=64)  # few enough places: not pooled
    assert images.shape == (2, 27, 64) and torch.allclose(images[:, centre], clips[:, :, 0].flatten(2).float())
    with pytest.raises(ValueError, match="pixels"):
        pixel_neighbourhoods(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match=">= 2 frames"):
        pixel_neighbourhoods(torch.zeros(1, 1, 1, 8, 8))


def test_running_statistics_equal_the_batch_mean_and_the_regularised_inverse_covariance():
    maps = torch.randn(40, 2, 3, 5, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.5])[None, None, :, None]
    stats = PositionStatistics()
    for chunk in torch.split(maps, 7):
        stats.add(chunk)
    g = stats.finish()
    assert g.mean.shape == (2, 5, 3) and g.precision.shape == (2, 5, 3, 3)
    for level in range(2):
        values = maps[:, level].numpy()  # [N, D, P]
        covs = [np.cov(values[:, :, p].T) for p in range(5)]
        ridge = POSITION_REG * np.mean([np.diag(c).mean() for c in covs])
        for p in range(5):
            assert np.allclose(g.mean[level, p].numpy(), values[:, :, p].mean(0), atol=1e-6)
            assert np.allclose(g.precision[level, p].numpy() @ (covs[p] + ridge * np.eye(3)), np.eye(3), atol=1e-4)
    with pytest.raises(ValueError, match=">= 2 inputs"):
        PositionStatistics().finish()
    with pytest.raises(ValueError, match="batches differ"):
        stats.add(torch.randn(2, 2, 3, 4))


def test_files_hold_half_of_each_precision_and_restore_it_exactly():
    """The precisions are symmetric, so ``to_dict`` keeps the upper triangles (D(D+1)/2 of D² values) and
    ``from_saved`` gives back the same matrices bit for bit; files written with the full matrices still load,
    and a triangle that does not fit the means is a one-line error."""
    stats = PositionStatistics()
    stats.add(torch.randn(30, 2, 6, 4))
    g = stats.finish()
    assert torch.equal(g.precision, g.precision.transpose(-2, -1))
    saved = g.to_dict()
    assert saved["precision_upper"].shape == (2, 4, 21) and "precision" not in saved
    again = PositionGaussians.from_saved(saved)
    assert torch.equal(again.precision, g.precision) and torch.equal(again.mean, g.mean)
    legacy = PositionGaussians.from_saved({"mean": g.mean, "precision": g.precision})
    assert torch.equal(legacy.precision, g.precision)
    with pytest.raises(ValueError, match=r"precision_upper \[L, P, 21\]"):
        PositionGaussians.from_saved({"mean": g.mean, "precision_upper": saved["precision_upper"][..., :20]})


def test_mahalanobis_distances_in_closed_form_and_chi_square_on_average():
    mean = torch.tensor([[[1.0, -1.0]]])  # L = 1, P = 1, D = 2
    cov = torch.tensor([[4.0, 1.0], [1.0, 2.0]])
    g = PositionGaussians(mean, torch.linalg.inv(cov)[None, None])
    at_mean = mahalanobis_map(mean.permute(0, 2, 1)[None], g)
    assert at_mean.shape == (1, 1, 1) and at_mean.abs().max() < 1e-6
    delta = torch.tensor([1.0, 2.0])
    point = (mean[0, 0] + delta).reshape(1, 1, 2, 1)
    assert mahalanobis_map(point, g)[0, 0, 0] == pytest.approx(float(torch.sqrt(delta @ torch.linalg.inv(cov) @ delta)), rel=1e-5)
    samples = torch.distributions.MultivariateNormal(mean[0, 0], cov).sample((20000,)).reshape(-1, 1, 2, 1)
    assert (mahalanobis_map(samples, g) ** 2).mean() == pytest.approx(2.0, rel=0.03)  # E χ²_2 = 2
    with pytest.raises(ValueError, match="expected"):
        mahalanobis_map(torch.randn(3, 1, 3, 1), g)


def _squares(n, rows, g):
    """16x16 noise images, each with a bright 3x3 square at a random column in the given rows."""
    x = 0.1 * torch.randn(n, 1, 16, 16, generator=g)
    for i in range(n):
        r = int(rows[torch.randint(len(rows), (1,), generator=g)])
        c = int(torch.randint(1, 13, (1,), generator=g))
        x[i, 0, r:r + 3, c:c + 3] += 1.0
    return x


def test_a_thing_in_the_wrong_place_is_seen_by_the_position_feature_only(conv_toy):
    """Normal: the square in the top rows. Anomaly: the same square in the bottom rows. Each patch of an
    anomaly exists among normal patches (the patch feature, a negative control, cannot separate them);
    the square's place is what is new, which the per-position Gaussians see: complete separation."""
    g = torch.Generator().manual_seed(5)
    normal, held_out = _squares(200, [1, 2, 3], g), _squares(20, [1, 2, 3], g)
    wrong_place = _squares(20, [11, 12], g)
    toy, sigmas = conv_toy(4), torch.tensor([0.3])
    bank = build_bank(toy, toy.layer, normal, sigmas, batch_size=64, patch_size=4096, shallow=toy.layer)
    assert bank.positions is not None and bank.positions.mean.shape == (1, 256, 4)
    clean, broken = (feature_knn(toy, toy.layer, v, sigmas, bank, k=1, patch_top=2, shallow=toy.layer)
                     for v in (held_out, wrong_place))
    assert clean.names == ("knn_0_sigma=0.3", "patch_0_sigma=0.3", "pos_0_sigma=0.3")
    assert broken.features[:, 2].min() > clean.features[:, 2].max()  # position: complete separation
    assert broken.features[:, 1].min() < clean.features[:, 1].max()  # patches: overlap (negative control)
    no_positions = FeatureBank(bank.inputs, bank.patches)
    assert feature_knn(toy, toy.layer, held_out, sigmas, no_positions, k=1, patch_top=2).names[-1] == "patch_0_sigma=0.3"
    with pytest.raises(ValueError, match="no shallow layer"):
        feature_knn(toy, toy.layer, held_out, sigmas, bank)


def test_an_image_detector_keeps_position_statistics_and_round_trips_them(tmp_path):
    g = torch.Generator().manual_seed(6)
    x = _squares(96, [1, 2, 3], g).numpy()
    cfg = DetectorConfig(score=ScoreConfig(kind="features", levels=1, positions=True),
                         calibration=CalibrationConfig(density="max"),
                         minutes=1.0, max_steps=3, batch_size=32, holdout_fraction=0.25)
    det = DiffusionAnomalyDetector(contamination=0.1, config=cfg).fit(x, net_config=DenoiserNetConfig(
        (1, 16, 16), base_channels=8))
    assert det.bank_.positions is not None and det.bank_.positions.mean.shape == (1, 256, 8)
    raw = det.score_samples(x[:4])
    assert raw.names[-1].startswith("pos_0") and raw.nfe == 1  # the same call reads both layers
    det.save(tmp_path / "d.pt")
    again = DiffusionAnomalyDetector.load(tmp_path / "d.pt")
    assert np.allclose(again.decision_function(x[:8]), det.decision_function(x[:8]))
    off = DiffusionAnomalyDetector(config=DetectorConfig(score=ScoreConfig(kind="features", levels=1),
                                                         minutes=1.0, max_steps=2, batch_size=32))  # images: off
    off.fit(x, net_config=DenoiserNetConfig((1, 16, 16), base_channels=8))
    assert off.bank_.positions is None and not any(n.startswith("pos") for n in off.score_samples(x[:2]).names)


def test_positions_by_input_kind_unless_set():
    from sciffusion.common.anomaly.score_config import positions_for

    auto = ScoreConfig(kind="features", levels=2)
    assert positions_for(auto, (3, 8, 16, 16)) and not positions_for(auto, (1, 28, 28)) and not positions_for(auto, (5,))
    assert positions_for(ScoreConfig(kind="features", levels=2, positions=True), (1, 28, 28))
    assert not positions_for(ScoreConfig(kind="features", levels=2, positions=False), (3, 8, 16, 16))


def test_a_clip_detector_keeps_positions_by_default_and_the_density_max_takes_the_largest_z():
    from sciffusion.common.anomaly.densities import MaxZ, density_from_dict, fit_density

    x = np.random.default_rng(7).uniform(-1, 1, size=(24, 1, 4, 8, 8)).astype(np.float32)
    det = DiffusionAnomalyDetector(config=DetectorConfig(score=ScoreConfig(kind="features", levels=1), minutes=1.0,
                                                         max_steps=2, batch_size=8))
    det.fit(x, net_config=DenoiserNetConfig((1, 4, 8, 8), base_channels=8))
    assert det.bank_.positions is not None and det.score_samples(x[:2]).names == ("pos_0_sigma=0.3", "pos_pixels")
    assert det.bank_.inputs is None  # clips with positions: no whole-input distances by default
    z = np.array([[0.0, 2.0, -1.0], [3.0, -5.0, 1.0]])
    density = fit_density("max", z)
    assert isinstance(density, MaxZ) and density.score(z).tolist() == [2.0, 3.0]
    assert isinstance(density_from_dict(density.to_dict()), MaxZ)


def test_without_whole_input_distances_the_detector_scores_positions_only_and_round_trips(tmp_path):
    from sciffusion.common.anomaly.score_config import whole_input_for

    g = torch.Generator().manual_seed(8)
    x = _squares(96, [1, 2, 3], g).numpy()
    cfg = DetectorConfig(score=ScoreConfig(kind="features", levels=2, positions=True, whole_input=False,
                                           patch_bank_size=0),
                         minutes=1.0, max_steps=3, batch_size=32, holdout_fraction=0.25)
    det = DiffusionAnomalyDetector(config=cfg).fit(x, net_config=DenoiserNetConfig((1, 16, 16), base_channels=8))
    assert det.bank_.inputs is None and det.bank_.positions is not None
    names = det.score_samples(x[:4]).names
    assert names == ("pos_0_sigma=0.3", "pos_1_sigma=0.6")  # no whole-input kNN features
    det.save(tmp_path / "d.pt")
    again = DiffusionAnomalyDetector.load(tmp_path / "d.pt")
    assert again.bank_.inputs is None
    assert np.allclose(again.decision_function(x[:8]), det.decision_function(x[:8]))
    auto = ScoreConfig(kind="features", levels=2)
    assert whole_input_for(auto, (1, 16, 16)) and whole_input_for(auto, (5,))  # images, vectors: on
    assert not whole_input_for(auto, (3, 8, 16, 16))  # clips keep position Gaussians: off
    assert whole_input_for(ScoreConfig(kind="features", levels=2, positions=False), (3, 8, 16, 16))
    assert whole_input_for(ScoreConfig(kind="features", levels=2, whole_input=True), (3, 8, 16, 16))
    assert whole_input_for(ScoreConfig(kind="features", levels=2, positions=True), (1, 16, 16))  # images stay on
    nothing = DetectorConfig(score=ScoreConfig(kind="features", levels=1, positions=False, whole_input=False,
                                               patch_bank_size=0), minutes=1.0, max_steps=1, batch_size=32)
    with pytest.raises(ValueError, match="whole-input distances off"):
        DiffusionAnomalyDetector(config=nothing).fit(x, net_config=DenoiserNetConfig((1, 16, 16), base_channels=8))


class FrameConvToy(nn.Module):
    """Clips ``[B, 1, T, H, W]``: D(x, σ) = x; the layer is a fixed random 3x3 convolution applied frame by
    frame (``Conv3d`` with a 1x3x3 kernel), so its output is a per-frame map ``[B, D, T, H, W]``."""

    def __init__(self, channels: int):
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Conv3d(1, channels, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x, sigma):
        self.layer(x)
        return x


def _square_clips(n, rows, g, odd_frame=None, odd_rows=(11, 12)):
    """4-frame clips of :func:`_squares` frames (square in ``rows``); frame ``odd_frame`` has it in ``odd_rows``."""
    frames = [_squares(n, odd_rows if t == odd_frame else rows, g) for t in range(4)]
    return torch.stack(frames, 2)  # [n, 1, 4, 16, 16]


def test_per_frame_maps_share_gaussians_over_frames_and_say_where_and_when():
    """A clip network whose shallow layer keeps the frames apart: one Gaussian per position, fitted on
    every frame of the normal clips; a square in the wrong place in one frame of a clip is separated
    completely, and the map peaks in that frame, in the rows where the square is."""
    g = torch.Generator().manual_seed(9)
    normal, held_out = _square_clips(100, [1, 2, 3], g), _square_clips(20, [1, 2, 3], g)
    broken = _square_clips(20, [1, 2, 3], g, odd_frame=2)
    toy, sigmas = FrameConvToy(4), torch.tensor([0.3])
    bank = build_bank(toy, toy.layer, normal, sigmas, batch_size=64, whole=False, shallow=toy.layer)
    assert bank.positions.mean.shape == (1, 256, 4)  # per position, not per frame and position
    clean, odd = (feature_knn(toy, toy.layer, v, sigmas, bank, shallow=toy.layer) for v in (held_out, broken))
    assert clean.names == ("pos_0_sigma=0.3",) and clean.nfe == 1
    assert odd.features[:, 0].min() > clean.features[:, 0].max()
    assert odd.map.shape == (20, 4, 16, 16) and clean.map.shape == (20, 4, 16, 16)
    per_frame = odd.map.amax((2, 3))  # [B, T]
    assert (per_frame.argmax(1) == 2).all()  # when
    rows = odd.map[:, 2].mean(2)  # [B, H]
    assert (rows[:, 10:15].mean(1) > 2 * rows[:, :8].mean(1)).all()  # where: the bottom rows, not the top
    assert clean.map.amax((2, 3)).max() < per_frame[:, 2].min()  # no frame of a normal clip looks like it
    # the frame scores: each frame's largest position distance, the peak of its (bilinearly smoothed) map
    assert frame_scores(odd) is odd.frames and odd.frames.shape == (20, 4)
    assert (odd.frames >= per_frame - 1e-5).all() and (odd.frames.argmax(1) == 2).all()
    assert odd.frames[:, 2].min() > clean.frames.max()


def test_the_pixel_feature_sees_motion_the_wrong_way_with_no_model_call_and_round_trips(tmp_path, motion_clips):
    """pixels=True adds one feature, per-position Gaussians of each place's pixels and their change since
    the frame before: clips whose square runs backwards over the same places (every frame normal) are
    separated completely, and the detector's map and frame scores come from it (the frame-stack network
    has no per-frame map). On by default for clips, off for images; without it, no such feature."""
    from sciffusion.common.anomaly.score_config import pixels_for

    g = torch.Generator().manual_seed(9)
    x = motion_clips(80, False, g).numpy()
    cfg = DetectorConfig(score=ScoreConfig(kind="features", levels=1, pixels=True), minutes=1.0, max_steps=2,
                         batch_size=16, holdout_fraction=0.25)
    det = DiffusionAnomalyDetector(config=cfg).fit(x, net_config=DenoiserNetConfig((1, 5, 16, 16), base_channels=8))
    assert det.bank_.pixels is not None and det.bank_.pixels.mean.shape == (1, 256, 18)  # 2 x 9 values per place
    normal, backwards = motion_clips(12, False, g).numpy(), motion_clips(12, True, g).numpy()
    clean, broken = det.score_samples(normal), det.score_samples(backwards)
    assert clean.names[-1] == "pos_pixels" and clean.nfe == 1  # no extra model call
    assert broken.features[:, -1].min() > clean.features[:, -1].max()
    assert clean.map.shape == (12, 5, 16, 16) and clean.frames.shape == (12, 5)
    assert torch.equal(broken.frames[:, 0], broken.frames[:, 1])  # frame 0 has no "before": frame 1's score
    det.save(tmp_path / "d.pt")
    again = DiffusionAnomalyDetector.load(tmp_path / "d.pt")
    assert again.bank_.pixels is not None
    assert np.allclose(again.decision_function(backwards), det.decision_function(backwards))
    auto = ScoreConfig(kind="features", levels=1)
    assert pixels_for(auto, (1, 5, 16, 16)) and not pixels_for(auto, (1, 16, 16)) and not pixels_for(auto, (5,))
    assert pixels_for(ScoreConfig(kind="features", levels=1, pixels=True), (1, 16, 16))
    assert not pixels_for(ScoreConfig(kind="features", levels=1, pixels=False), (1, 5, 16, 16))
    off = DiffusionAnomalyDetector(config=DetectorConfig(score=ScoreConfig(kind="features", levels=1, pixels=False),
                                                         minutes=1.0, max_steps=1, batch_size=16))
    off.fit(x, net_config=DenoiserNetConfig((1, 5, 16, 16), base_channels=8))
    assert off.bank_.pixels is None and "pos_pixels" not in off.score_samples(normal[:2]).names
