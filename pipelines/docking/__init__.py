"""Docking pipelines: index building, preparation (cache of tensors), evaluation, Vina baseline."""
