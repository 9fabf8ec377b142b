"""Samplers: small pure functions over ``denoise(x, sigma)`` and a σ grid (see ``base.py``)."""
from sciffusion.common.samplers.adaptive import adaptive_ode
from sciffusion.common.samplers.base import CountingDenoiser, SampleResult, StepInfo
from sciffusion.common.samplers.dpm_solver import dpm_solver_1, dpmpp_2m, dpmpp_2m_sde
from sciffusion.common.samplers.exp_multistep import exp_multistep
from sciffusion.common.samplers.first_order import ddim, ddpm_ancestral, euler, euler_maruyama
from sciffusion.common.samplers.heun import heun
from sciffusion.common.samplers.linear_multistep import lms
from sciffusion.common.samplers.unipc import unipc_bh
from sciffusion.common.samplers.predictor_corrector import predictor_corrector
from sciffusion.common.samplers.registry import SAMPLERS, SamplerSpec, get_sampler, register

__all__ = ["CountingDenoiser", "SAMPLERS", "SampleResult", "SamplerSpec", "StepInfo", "adaptive_ode", "ddim",
           "ddpm_ancestral", "dpm_solver_1", "dpmpp_2m", "dpmpp_2m_sde", "euler", "euler_maruyama",
           "exp_multistep", "get_sampler", "heun", "lms", "predictor_corrector", "register", "unipc_bh"]
