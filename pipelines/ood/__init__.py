"""Anomaly / out-of-distribution flows: fit a diffusion detector on normal data, score inputs, evaluate."""
