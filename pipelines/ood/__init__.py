"""Anomaly / out-of-distribution flows: fit a diffusion detector on normal data, score inputs, evaluate.

Importing the package registers the ``video`` network builder (:mod:`~sciffusion.pipelines.ood.video_model`),
so detectors that start from a video model load wherever these flows run."""
from sciffusion.pipelines.ood import video_model  # noqa: F401  (registers the 'video' network builder)
