"""Guidance that composes with every sampler: each guidance is a denoiser wrapper
``(x, sigma) -> x0`` (RePaint: a sampler wrapper), so registered samplers run unchanged. Twisted SMC
is a sampler of its own over the same ``denoise(x, sigma)`` callable."""
from sciffusion.common.guidance.cfg import cfg
from sciffusion.common.guidance.gradient import classifier_guidance, dps, energy_guidance
from sciffusion.common.guidance.inpaint import inpaint_replace, repaint, shifted_denoiser
from sciffusion.common.guidance.posterior import conditional_start, inpaint_posterior, tweedie_posterior
from sciffusion.common.guidance.smc import energy_smc, guided_smc, inpaint_smc, twisted_smc

__all__ = [
    "cfg", "classifier_guidance", "conditional_start", "dps", "energy_guidance", "energy_smc", "guided_smc", "inpaint_posterior", "inpaint_replace",
    "inpaint_smc", "repaint", "shifted_denoiser", "tweedie_posterior", "twisted_smc",
]
