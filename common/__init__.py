"""The diffusion core: processes, σ grids, denoisers, samplers. Knows nothing of molecules or video."""
