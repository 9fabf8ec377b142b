"""Benchmarks of the core against peer libraries (``sciffusion bench ...``)."""
