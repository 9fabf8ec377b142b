"""Domains that plug into the core: docking and video."""
