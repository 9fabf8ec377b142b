"""Anomaly and out-of-distribution scoring with any trained denoiser: scores (MSMA, reconstruction,
PF-ODE NLL and its complexity correction, DiffPath-style path statistics, feature-bank distances, and
for clips the persistence-corrected error of a context denoiser's next-frame prediction) with per-level features,
NFE and dense maps, and two scores with no network (per-position Gaussians of the pixels themselves, one
Gaussian of whole-input pixel statistics);
calibration on normal data; metrics on raw scores; a PyOD-compatible detector, and an
ensemble of detectors under one calibration."""
from sciffusion.common.anomaly.calibration import Calibration, CalibrationConfig, calibrate
from sciffusion.common.anomaly.detector import DetectorConfig, DiffusionAnomalyDetector
from sciffusion.common.anomaly.ensemble import EnsembleConfig, EnsembleDetector, load_any_detector, make_detector
from sciffusion.common.anomaly.features import AnomalyScores, noise_levels
from sciffusion.common.anomaly.likelihood_scores import complexity_corrected, compressed_bits, nll
from sciffusion.common.anomaly.metrics import DetectionMetrics, detection_metrics
from sciffusion.common.anomaly.networks import DenoiserNetConfig
from sciffusion.common.anomaly.pixel_detector import PixelGaussianDetector
from sciffusion.common.anomaly.predictive import ClipWindows, predictive_residual, window_starts
from sciffusion.common.anomaly.resolution import ReducedInputs, reduce_chunks
from sciffusion.common.anomaly.score_config import SCORE_KINDS, ScoreConfig, compute_scores
from sciffusion.common.anomaly.scores import msma, path_statistics, reconstruction

__all__ = ["AnomalyScores", "Calibration", "CalibrationConfig", "ClipWindows", "DenoiserNetConfig", "DetectionMetrics",
           "DetectorConfig", "DiffusionAnomalyDetector", "EnsembleConfig", "EnsembleDetector", "PixelGaussianDetector",
           "ReducedInputs",
           "SCORE_KINDS", "ScoreConfig", "calibrate", "complexity_corrected", "compressed_bits", "compute_scores",
           "detection_metrics", "load_any_detector", "make_detector", "msma", "nll", "noise_levels", "path_statistics",
           "predictive_residual", "reconstruction", "reduce_chunks", "window_starts"]
