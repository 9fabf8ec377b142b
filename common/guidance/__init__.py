"""Guidance as denoiser (or sampler) wrappers that compose with every registered sampler."""
