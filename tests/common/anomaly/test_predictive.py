"""Predictive scores: windows, the window dataset, the score on a closed form with a negative control,
and a detector that learns a motion rule and flags clips that break it."""
import dataclasses

import numpy as np
import pytest
import torch

from sciffusion.common.anomaly import CalibrationConfig, DetectorConfig, DiffusionAnomalyDetector, ScoreConfig
from sciffusion.common.anomaly.metrics import detection_metrics
from sciffusion.common.anomaly.networks import ContextStack, DenoiserNetConfig
from sciffusion.common.anomaly.predictive import (PREDICTIVE_MAX_NFE, ClipWindows, auto_target_frames,
                                                  predictive_residual, window_starts)

TAU = 0.1  # frame-to-frame drift of the closed-form clips


def test_window_starts_tile_every_predicted_frame():
    assert window_starts(8, 2, 2) == [2, 4, 6]
    assert window_starts(8, 3, 2) == [3, 5, 6]  # the last window moved back to end at frame 7
    assert window_starts(4, 3, 1) == [3]
    for frames, p, k in [(8, 2, 2), (9, 3, 2), (10, 1, 3)]:
        covered = {t for s in window_starts(frames, p, k) for t in range(s, s + k)}
        assert covered == set(range(p, frames))
    with pytest.raises(ValueError, match="too short"):
        window_starts(4, 3, 2)
    with pytest.raises(ValueError, match=">= 1"):
        window_starts(8, 0, 2)


def test_auto_target_frames_is_the_fewest_within_the_call_budget():
    assert [auto_target_frames(t, 3) for t in (4, 8, 10, 11, 12, 19, 20, 27, 28)] == [1, 1, 1, 1, 2, 2, 3, 3, 4]
    assert auto_target_frames(20, 3, levels=2) == 5 and auto_target_frames(20, 3, levels=9) == 17  # one window
    for frames in range(4, 40):
        for levels in (1, 2, 3):
            k = auto_target_frames(frames, 3, levels)
            assert levels * len(window_starts(frames, 3, k)) <= max(PREDICTIVE_MAX_NFE, levels)
            if k > 1:  # one frame fewer per window needs more calls than allowed
                assert levels * len(window_starts(frames, 3, k - 1)) > PREDICTIVE_MAX_NFE
    with pytest.raises(ValueError, match="too short"):
        auto_target_frames(3, 3)


def test_score_config_fixes_its_automatic_target_frames_per_clip_length():
    assert ScoreConfig(kind="predictive").target_frames == 1  # the default: every frame its own window
    auto = ScoreConfig(kind="predictive", levels=1, context_frames=3, target_frames=None)
    assert auto.for_shape((1, 8, 16, 16)).target_frames == 1 and auto.nfe_for((1, 8, 16, 16)) == 5
    assert auto.for_shape((1, 20, 16, 16)).target_frames == 3 and auto.nfe_for((1, 20, 16, 16)) == 6
    fixed = dataclasses.replace(auto, target_frames=1)
    assert fixed.for_shape((1, 20, 16, 16)) is fixed and fixed.nfe_for((1, 20, 16, 16)) == 17
    features = ScoreConfig(kind="features")
    assert features.for_shape((1, 20, 16, 16)) is features
    with pytest.raises(ValueError, match="target frames"):
        ScoreConfig(kind="predictive", target_frames=0)


def test_clip_windows_are_contiguous_slices():
    x = torch.arange(3 * 1 * 7 * 2 * 2, dtype=torch.float32).reshape(3, 1, 7, 2, 2)
    data = ClipWindows(x, context=2, target=3)
    torch.manual_seed(0)
    starts = set()
    for _ in range(40):
        target, context = data[1]
        assert target.shape == (1, 3, 2, 2) and context.shape == (1, 2, 2, 2)
        s = int(target[0, 0, 0, 0] - x[1, 0, 0, 0, 0]) // 4  # frame index of the first target frame
        assert torch.equal(target, x[1, :, s:s + 3]) and torch.equal(context, x[1, :, s - 2:s])
        starts.add(s)
    assert starts == {2, 3, 4}  # every position where the window fits
    with pytest.raises(ValueError, match="too short"):
        ClipWindows(x, context=5, target=3)


def _random_walk(n, frames, generator):
    """Clips [n, 1, T, 2, 2] whose frames drift by N(0, TAU²) per pixel from one frame to the next."""
    steps = torch.randn(n, 1, frames, 2, 2, generator=generator, dtype=torch.float64) * TAU
    steps[:, :, 0] = torch.randn(n, 1, 2, 2, generator=generator, dtype=torch.float64)
    return steps.cumsum(2)


def _exact_context_denoiser(calls):
    """The exact posterior mean of the next K frames of :func:`_random_walk` given the noisy frames and the
    context: a Gaussian random walk from the last context frame, observed with noise σ (a Kalman smoother
    in closed form, here through the joint Gaussian)."""
    def denoise(noisy, sigma, context):
        calls.append((noisy.shape, context.shape))
        k = noisy.shape[2]
        idx = torch.arange(1, k + 1, dtype=torch.float64)
        cov = TAU**2 * torch.minimum(idx[:, None], idx[None])  # prior covariance of the K frames' drifts
        s = float(sigma[0])
        gain = cov @ torch.linalg.inv(cov + s**2 * torch.eye(k, dtype=torch.float64))
        last = context[:, :, -1:]
        drift = torch.einsum("ij,bcjhw->bcihw", gain, noisy - last)
        return last + drift
    return denoise


def test_predictive_residual_closed_form_and_negative_control():
    g = torch.Generator().manual_seed(0)
    normal = _random_walk(200, 8, g)
    broken = _random_walk(200, 8, g)
    broken[:, :, 5:] += 1.0  # a jump of 10 τ at frame 5
    calls = []
    denoise = _exact_context_denoiser(calls)
    sigmas = torch.tensor([0.5, 2.0], dtype=torch.float64)
    out = predictive_residual(denoise, torch.cat([normal, broken]), sigmas, 2, 2,
                              generator=torch.Generator().manual_seed(1))
    assert out.nfe == 2 * 3 and len(calls) == 6
    assert all(shape == (400, 1, 2, 2, 2) and ctx == (400, 1, 2, 2, 2) for shape, ctx in calls)
    assert out.features.shape == (400, 8) and out.names[:4] == (
        "pred_mean_0_sigma=0.5", "pred_max_0_sigma=0.5", "gain_mean_0_sigma=0.5", "gain_max_0_sigma=0.5")
    labels = np.r_[np.zeros(200), np.ones(200)]
    assert detection_metrics(out.score.numpy(), labels).auroc > 0.99
    assert detection_metrics(out.features[:, 1].numpy(), labels).auroc > 0.99  # the raw error too
    # the map: the context-only frames repeat the first predicted frame's map (it is relative to
    # persistence, which is optimal for a random walk and as wrong as the model at a jump, so it localises
    # stops, below, not jumps here)
    assert out.map.shape == (400, 8, 2, 2) and (out.map > 0).all()
    assert torch.equal(out.map[:, 0], out.map[:, 2]) and torch.equal(out.map[:, 1], out.map[:, 2])
    assert not torch.equal(out.map[:, 3], out.map[:, 2])
    # negative control: the same clips without the jump score like the normal ones
    control = predictive_residual(denoise, torch.cat([normal, broken - (torch.arange(8) >= 5).double()
                                                      .reshape(1, 1, 8, 1, 1)]), sigmas, 2, 2,
                                  generator=torch.Generator().manual_seed(1))
    assert 0.35 < detection_metrics(control.score.numpy(), labels).auroc < 0.65
    # a clip that stops (frames 4… repeat frame 3) is easier to predict than a normal one: the raw error
    # calls it normal (below chance), the persistence gain flags it
    frozen = _random_walk(200, 8, g)
    frozen[:, :, 4:] = frozen[:, :, 3:4]
    both = predictive_residual(denoise, torch.cat([normal, frozen]), sigmas[1:], 2, 2,
                               generator=torch.Generator().manual_seed(1))
    assert detection_metrics(both.features[:, 1].numpy(), labels).auroc < 0.3
    # (persistence is the optimal forecast of a random walk, so normal clips gain ≈ 0 ± noise here and a
    # frozen one only a little more; on real motion the model beats persistence and the margin is larger)
    assert detection_metrics(both.features[:, 3].numpy(), labels).auroc > 0.75
    frames = both.map.mean((2, 3))  # a frame's map mean is exp(its gain): frozen frames light up
    assert detection_metrics(frames[:, 4:].mean(1).numpy(), labels).auroc > 0.75
    # normal clips: the error at σ = 2 is the posterior variance of the exact denoiser, within sampling error
    k_var = predictive_residual(denoise, normal, torch.tensor([50.0], dtype=torch.float64), 2, 1,
                                generator=torch.Generator().manual_seed(2))
    assert k_var.features[:, 0].mean().item() == pytest.approx(TAU**2, rel=0.1)


def test_context_stack_sees_its_context_and_refuses_wrong_shapes():
    cfg = DenoiserNetConfig((1, 6, 8, 8), base_channels=8, context_frames=3, target_frames=2)
    assert cfg.kind == "context" and cfg.unet_config().in_channels == 5 and cfg.unet_config().head_channels == 2
    net = cfg.build()
    assert isinstance(net, ContextStack)
    torch.nn.init.normal_(net.net.head[-1].weight)  # the head starts at zero: no gradient reaches the input
    x, context = torch.randn(2, 1, 2, 8, 8), torch.randn(2, 1, 3, 8, 8, requires_grad=True)
    out = net(x, torch.zeros(2), context)
    assert out.shape == (2, 1, 2, 8, 8)
    out.sum().backward()
    assert context.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="context: need"):
        net(x, torch.zeros(2), torch.randn(2, 1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"T >= 3 \+ 2"):
        DenoiserNetConfig((1, 4, 8, 8), context_frames=3, target_frames=2)


def _moving_dots(n, frames, rng, break_from=None):
    """Clips [n, 1, T, 8, 8] in [−1, 1] of one bright 2×2 dot moving one pixel per frame (random
    direction, wrapping); ``break_from``: the dot jumps by 4 pixels at that frame."""
    clips = -np.ones((n, 1, frames, 8, 8), np.float32)
    for i in range(n):
        y, x = rng.integers(0, 8, 2)
        dy, dx = [(0, 1), (1, 0), (0, -1), (-1, 0)][rng.integers(4)]
        for t in range(frames):
            jump = 4 if break_from is not None and t >= break_from else 0
            yy, xx = (y + dy * t + jump) % 8, (x + dx * t + jump) % 8
            clips[i, 0, t, [yy, yy, (yy + 1) % 8, (yy + 1) % 8], [xx, (xx + 1) % 8, xx, (xx + 1) % 8]] = 1.0
    return clips


def test_detector_learns_motion_and_flags_jumps(tmp_path):
    rng = np.random.default_rng(0)
    train = _moving_dots(400, 6, rng)
    config = DetectorConfig(score=ScoreConfig(kind="predictive", levels=1, sigma_min=2.0, sigma_max=4.0,
                                              context_frames=2, target_frames=2),
                            calibration=CalibrationConfig(density="mean", contamination=0.1), minutes=2.0,
                            max_steps=250, batch_size=32, holdout_fraction=0.2)
    det = DiffusionAnomalyDetector(config=config).fit(train, net_config=DenoiserNetConfig((1, 6, 8, 8), base_channels=16))
    assert det.net_config_.kind == "context" and config.score.nfe_for((1, 6, 8, 8)) == 2
    test = np.concatenate([_moving_dots(60, 6, rng), _moving_dots(60, 6, rng, break_from=3)])
    scores = det.decision_function(test)
    labels = np.r_[np.zeros(60), np.ones(60)]
    assert detection_metrics(scores, labels).auroc > 0.9
    raw = det.score_samples(test[:4])
    assert raw.nfe == 2 and raw.map.shape == (4, 6, 8, 8)
    back = DiffusionAnomalyDetector.load(det.save(tmp_path / "det.pt"))
    assert np.allclose(back.decision_function(test[:8]), det.decision_function(test[:8]), atol=1e-10)
    with pytest.raises(ValueError, match="unconditional"):
        DiffusionAnomalyDetector(config=dataclasses.replace(config, score=ScoreConfig(kind="msma"))).fit(
            train, net_config=det.net_config_)
    with pytest.raises(ValueError, match="needs clips"):
        DiffusionAnomalyDetector(config=config).fit(np.zeros((10, 1, 8, 8), np.float32))


def test_detector_fixes_automatic_target_frames_at_fit(tmp_path):
    rng = np.random.default_rng(1)
    train = _moving_dots(60, 14, rng)  # 3 context frames + 11 to predict: 2 per window keeps 6 windows
    config = DetectorConfig(score=ScoreConfig(kind="predictive", levels=1, sigma_min=2.0, sigma_max=4.0, context_frames=3,
                                              target_frames=None),
                            calibration=CalibrationConfig(density="mean"), minutes=1.0, max_steps=3, batch_size=8)
    det = DiffusionAnomalyDetector(config=config).fit(train, net_config=DenoiserNetConfig((1, 14, 8, 8), base_channels=8))
    assert det.config.score.target_frames == 2 and det.net_config_.target_frames == 2
    raw = det.score_samples(train[:3])
    assert raw.nfe == 6 <= PREDICTIVE_MAX_NFE and raw.map.shape == (3, 14, 8, 8)
    back = DiffusionAnomalyDetector.load(det.save(tmp_path / "det.pt"))
    assert back.config.score.target_frames == 2
    assert np.allclose(back.decision_function(train[:4]), det.decision_function(train[:4]), atol=1e-10)


def test_external_networks_come_from_registered_builders():
    from sciffusion.common.anomaly.networks import NETWORK_BUILDERS, register_network

    def builder(config):
        return ContextStack(DenoiserNetConfig(config.sample_shape, base_channels=8, context_frames=2,
                                              target_frames=1).build().net, 2)

    config = DenoiserNetConfig((1, 4, 8, 8), context_frames=2, external="test-net", external_config={"a": 1})
    assert config.kind == "context"
    with pytest.raises(ValueError, match="no builder registered"):
        config.build()
    try:
        register_network("test-net", builder)
        register_network("test-net", builder)  # the same builder again: a no-op
        assert isinstance(config.build(), ContextStack)
        with pytest.raises(ValueError, match="another builder"):
            register_network("test-net", lambda c: None)
    finally:
        NETWORK_BUILDERS.pop("test-net", None)
    with pytest.raises(ValueError, match="config as a dict"):
        DenoiserNetConfig((1, 4, 8, 8), external="test-net")


def test_an_external_context_network_serves_the_unconditional_scores_in_its_other_form():
    """A builder that makes both forms (same parameter names): the ``features`` member of an ensemble
    takes the given weights as an unconditional network; a builder with only the context form (and the
    core's channel-stacking context denoiser) is refused in one line, and the member trains its own."""
    from sciffusion.common.anomaly import DetectorConfig, DiffusionAnomalyDetector
    from sciffusion.common.anomaly.ensemble import _member_network
    from sciffusion.common.anomaly.networks import NETWORK_BUILDERS, FrameStack, register_network

    class Both(torch.nn.Module):  # both forms hold the same parameters (only their use would differ)
        def __init__(self, context: bool):
            super().__init__()
            self.context = context
            self.core = FrameStack(DenoiserNetConfig((1, 2, 8, 8), base_channels=8).build().net)

    def both(config):
        return Both(bool(config.context_frames))

    def context_only(config):
        if not config.context_frames:
            raise ValueError("fixed frame counts")
        return Both(True)

    shape = (1, 4, 8, 8)
    features = DiffusionAnomalyDetector(config=DetectorConfig(score=ScoreConfig(kind="features", levels=1)))
    try:
        register_network("test-both", both)
        register_network("test-context", context_only)
        given = DenoiserNetConfig(shape, context_frames=2, target_frames=2, external="test-both", external_config={})
        plain = given.unconditional()
        assert (plain.context_frames, plain.external, plain.kind) == (0, "test-both", "external")
        assert _member_network(features, given, shape) == (plain, True)
        only = DenoiserNetConfig(shape, context_frames=2, target_frames=2, external="test-context", external_config={})
        with pytest.raises(ValueError, match="serves only as a context denoiser .fixed frame counts"):
            only.unconditional()
        fresh, takes = _member_network(features, only, shape)
        assert not takes and fresh.external is None and fresh.context_frames == 0
        with pytest.raises(ValueError, match="score 'features': network 'test-context' serves only"):
            features._network_for(only)
    finally:
        NETWORK_BUILDERS.pop("test-both", None)
        NETWORK_BUILDERS.pop("test-context", None)
    with pytest.raises(ValueError, match="no unconditional form"):
        DenoiserNetConfig(shape, context_frames=2).unconditional()
    with pytest.raises(ValueError, match="needs an unconditional network"):
        features._network_for(DenoiserNetConfig(shape, context_frames=2))
