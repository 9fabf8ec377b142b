"""sciffusion: scientific diffusion models.

Sub-packages: ``sciffusion.common`` (the diffusion core), ``sciffusion.domains`` (docking, video),
``sciffusion.pipelines`` (end-to-end flows) and ``sciffusion.cli`` (the ``sciffusion`` command).
"""
__version__ = "0.1.0"
