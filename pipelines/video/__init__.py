"""Video pipelines: make datasets, ingest footage, run baselines, evaluate predictions."""
