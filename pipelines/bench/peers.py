"""Adapters that run k-diffusion and diffusers samplers on the benchmark's exact denoiser.

Same conventions as the peer measurement (``/work/shared/reference/peer_samplers.py``):
k-diffusion samplers get the shared Karras grid; k-diffusion is imported through its ``sampling``
module alone (its package ``__init__`` pulls torchvision/clip). diffusers schedulers build their
own grid from their config (EDM schedulers: Karras σ; discrete ones: a VE table log-uniform on
[σ_min, σ_max] over 1000 timesteps converted to VP betas, with ``use_karras_sigmas``), and the
denoiser is turned into the output each scheduler expects (EDM preconditioned F, VE or VP ε).
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
import types
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from sciffusion.common.denoisers import EDMPrecond
from sciffusion.common.samplers.registry import SAMPLERS
from sciffusion.pipelines.bench.contenders import BenchDenoiser, Contender, SampleFn, Track, grid_for, same_steps

SAME_AND_OWN: tuple[Track, ...] = ("same-grid", "own-grid")
OWN_ONLY: tuple[Track, ...] = ("own-grid",)
HEUN_STEPS = SAMPLERS["heun"].steps_for_nfe  # the core's rule: the last step is Euler, NFE = 2 steps − 1

DPM_ADAPTIVE_TOLERANCES = ((0.2, 0.05), (0.1, 0.02), (0.05, 0.0078), (0.02, 0.002), (0.01, 0.001))
KDIFFUSION_SAMPLERS = ("euler", "heun", "lms", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m_sde", "dpm_fast",
                       *(f"dpm_adaptive(rtol={r},atol={a})" for r, a in DPM_ADAPTIVE_TOLERANCES))
DIFFUSERS_SAMPLERS = ("EDMEuler", "EDMDPMSolver(2M)", "EDMDPMSolver(3M)", "EDMDPMSolver(2M-SDE)",
                      "HeunDiscrete(karras)", "DPMSolverMultistep(2M,karras)", "UniPC(bh2,karras)",
                      "UniPC(bh2,order3,karras)", "DDIM(trailing)", "EDMDPMSolver(3M,exponential)",
                      "DPMSolverMultistep(3M,lu_lambdas)")
PEER_SAMPLERS = {"k-diffusion": KDIFFUSION_SAMPLERS, "diffusers": DIFFUSERS_SAMPLERS}
"""The contender names of each peer library, known without importing it (``--samplers`` checks)."""


def peer_available(library: str) -> bool:
    """Whether a peer library can be imported (k-diffusion: its ``sampling`` module's file exists)."""
    module = {"k-diffusion": "k_diffusion", "diffusers": "diffusers"}[library]
    if module in sys.modules:  # k_diffusion may be our stub package (no __spec__) after load_k_sampling
        return True
    return importlib.util.find_spec(module) is not None


# ----------------------------------------------------------------------------- k-diffusion
def load_k_sampling() -> types.ModuleType:
    """``k_diffusion.sampling`` without ``k_diffusion/__init__``; only ``utils.append_dims`` is
    needed by it and is reproduced here."""
    if "k_diffusion.sampling" in sys.modules:
        return sys.modules["k_diffusion.sampling"]
    spec = importlib.util.find_spec("k_diffusion")
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = list(spec.submodule_search_locations)
    utils = types.ModuleType("k_diffusion.utils")

    def append_dims(x: Tensor, target_dims: int) -> Tensor:
        extra = target_dims - x.ndim
        if extra < 0:
            raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}, which is less")
        return x[(...,) + (None,) * extra]

    utils.append_dims = append_dims
    pkg.utils = utils
    sys.modules.setdefault("k_diffusion", pkg)
    sys.modules.setdefault("k_diffusion.utils", utils)
    return importlib.import_module("k_diffusion.sampling")


def kdiffusion_contenders(sigma_min: float, sigma_max: float, rho: float) -> list[Contender]:
    K = load_k_sampling()

    def on_grid(fn: Callable[..., Tensor]) -> Callable[[int], SampleFn]:
        takes_noise = "noise_sampler" in inspect.signature(fn).parameters and fn is not K.sample_dpmpp_2m_sde

        def make(steps: int) -> SampleFn:
            sigmas = grid_for(steps, sigma_min, sigma_max, rho)

            def sample(denoise: BenchDenoiser, x_init: Tensor, generator: torch.Generator) -> Tensor:
                # k-diffusion draws from the global RNG (and its Brownian tree): seed it from ours
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
                extra: dict[str, Any] = {}
                if takes_noise:
                    extra["noise_sampler"] = lambda s, sn: torch.randn(x_init.shape, generator=generator,
                                                                       dtype=x_init.dtype)
                return fn(denoise, x_init, sigmas.to(x_init.dtype), disable=True, **extra)
            return sample
        return make

    def dpm_fast(steps: int) -> SampleFn:
        return lambda den, x, g: K.sample_dpm_fast(den, x, sigma_min, sigma_max, steps, disable=True)

    def dpm_adaptive(rtol: float, atol: float) -> Callable[[int], SampleFn]:
        return lambda steps: (lambda den, x, g: K.sample_dpm_adaptive(den, x, sigma_min, sigma_max, rtol=rtol,
                                                                        atol=atol, disable=True))

    lib = "k-diffusion"
    out = [
        Contender(lib, "euler", on_grid(K.sample_euler), True),
        Contender(lib, "heun", on_grid(K.sample_heun), True, steps_for_nfe=HEUN_STEPS),
        Contender(lib, "lms", on_grid(K.sample_lms), True),
        Contender(lib, "dpmpp_2m", on_grid(K.sample_dpmpp_2m), True),
        Contender(lib, "dpmpp_2m_sde", on_grid(K.sample_dpmpp_2m_sde), False),
        Contender(lib, "dpmpp_3m_sde", on_grid(K.sample_dpmpp_3m_sde), False),
        Contender(lib, "dpm_fast", dpm_fast, True, OWN_ONLY),  # log-SNR-uniform grid, NFE = budget
    ]
    for rtol, atol in DPM_ADAPTIVE_TOLERANCES:
        out.append(Contender(lib, f"dpm_adaptive(rtol={rtol},atol={atol})", dpm_adaptive(rtol, atol), True,
                             OWN_ONLY, adaptive=True))
    return out


# ----------------------------------------------------------------------------- diffusers
def ve_table_betas(sigma_min: float, sigma_max: float, num_train_timesteps: int = 1000) -> list[float]:
    """Training table for the discrete schedulers: VE σ log-uniform on [σ_min, σ_max] over T
    timesteps (σ(0) = σ_min, σ(T−1) = σ_max), as VP betas (ᾱ = 1/(1 + σ²))."""
    sig = np.exp(np.linspace(np.log(sigma_min), np.log(sigma_max), num_train_timesteps))
    acp = 1.0 / (1.0 + sig ** 2)
    return (1.0 - acp / np.concatenate([[1.0], acp[:-1]])).tolist()


def _scheduler_sigmas(sched: Any) -> Tensor:
    if hasattr(sched, "sigmas"):
        return sched.sigmas.double()
    acp = sched.alphas_cumprod.double()[sched.timesteps.long()]  # DDIM: σ from the table, then 0
    return torch.cat([((1 - acp) / acp).sqrt(), torch.zeros(1, dtype=torch.float64)])


def _edm_skip_out(sigmas: list[float], sigma_data: float) -> tuple[list[float], list[float]]:
    """EDM's c_skip(σ) and c_out(σ) at each σ of the grid, as Python floats, from the core's
    :meth:`~sciffusion.common.denoisers.EDMPrecond.coefficients` (float64)."""
    precond = EDMPrecond(_no_network, sigma_data)
    c_skip, c_out, _, _ = precond.coefficients(torch.tensor(sigmas, dtype=torch.float64))
    return c_skip.tolist(), c_out.tolist()


def _no_network(x: Tensor, t: Tensor, cond: Any) -> Tensor:
    raise RuntimeError("only EDMPrecond's coefficients are used here; there is no network")


def _diffusers_make(cls: type, kwargs: dict, convention: str, sigma_start: float) -> Callable[[int], SampleFn]:
    """``convention``: ``edm`` (model output F with EDM preconditioning, σ_data from the config),
    ``ve`` (ε, state in VE units) or ``vp`` (ε, state x_vp = x_ve / sqrt(1 + σ²))."""
    takes_gen = "generator" in inspect.signature(cls.step).parameters

    def make(steps: int) -> SampleFn:
        def sample(denoise: BenchDenoiser, x_init: Tensor, generator: torch.Generator) -> Tensor:
            sched = cls(**kwargs)
            sched.set_timesteps(steps)
            sig = _scheduler_sigmas(sched).tolist()
            s0 = sig[0]
            z = x_init / sigma_start
            x = z * s0 if convention in ("ve", "edm") else z * (s0 / math.sqrt(1 + s0 * s0))
            kw = {"generator": generator} if takes_gen else {}
            if convention == "edm":
                c_skip, c_out = _edm_skip_out(sig, sched.config.sigma_data)
            for i, t in enumerate(sched.timesteps):
                s = sig[i]  # the σ the solver assumes at this call (not the rounded timestep's)
                sched.scale_model_input(x, t)  # for its side effects (step index bookkeeping)
                if convention == "edm":  # invert D = c_skip x + c_out F for the scheduler's F
                    out = (denoise(x, s) - c_skip[i] * x) / c_out[i]
                elif convention == "ve":
                    out = (x - denoise(x, s)) / s
                else:
                    x_ve = x * math.sqrt(1 + s * s)
                    out = (x_ve - denoise(x_ve, s)) / s
                x = sched.step(out, t, x, return_dict=False, **kw)[0]
            return x  # every grid here ends at σ = 0, where VP and VE states agree
        return sample
    return make


def diffusers_contenders(sigma_min: float, sigma_max: float, rho: float) -> list[Contender]:
    import diffusers as D

    disc = dict(trained_betas=ve_table_betas(sigma_min, sigma_max), prediction_type="epsilon")
    edm = dict(sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, sigma_data=0.5, prediction_type="epsilon")
    karras = dict(disc, use_karras_sigmas=True)
    # name: (class, kwargs, convention, deterministic, steps_for_nfe, tracks)
    specs: dict[str, tuple] = {
        "EDMEuler": (D.EDMEulerScheduler, edm, "edm", True, same_steps, SAME_AND_OWN),
        "EDMDPMSolver(2M)": (D.EDMDPMSolverMultistepScheduler, dict(edm, solver_order=2), "edm", True,
                             same_steps, SAME_AND_OWN),
        "EDMDPMSolver(3M)": (D.EDMDPMSolverMultistepScheduler, dict(edm, solver_order=3), "edm", True,
                             same_steps, SAME_AND_OWN),
        "EDMDPMSolver(2M-SDE)": (D.EDMDPMSolverMultistepScheduler, dict(edm, algorithm_type="sde-dpmsolver++"),
                                 "edm", False, same_steps, SAME_AND_OWN),
        "HeunDiscrete(karras)": (D.HeunDiscreteScheduler, karras, "ve", True, HEUN_STEPS, SAME_AND_OWN),
        "DPMSolverMultistep(2M,karras)": (D.DPMSolverMultistepScheduler, karras, "vp", True, same_steps,
                                          SAME_AND_OWN),
        "UniPC(bh2,karras)": (D.UniPCMultistepScheduler, karras, "vp", True, same_steps, SAME_AND_OWN),
        "UniPC(bh2,order3,karras)": (D.UniPCMultistepScheduler, dict(karras, solver_order=3), "vp", True,
                                     same_steps, SAME_AND_OWN),
        "DDIM(trailing)": (D.DDIMScheduler, dict(disc, timestep_spacing="trailing", set_alpha_to_one=True,
                                                 clip_sample=False), "vp", True, same_steps, OWN_ONLY),
        # the libraries' other schedules, for the own-grid track
        "EDMDPMSolver(3M,exponential)": (D.EDMDPMSolverMultistepScheduler,
                                         dict(edm, solver_order=3, sigma_schedule="exponential"), "edm", True,
                                         same_steps, OWN_ONLY),
        "DPMSolverMultistep(3M,lu_lambdas)": (D.DPMSolverMultistepScheduler,
                                              dict(disc, solver_order=3, use_lu_lambdas=True), "vp", True,
                                              same_steps, OWN_ONLY),
    }
    return [Contender("diffusers", name, _diffusers_make(cls, kw, conv, sigma_max), det, tracks, steps)
            for name, (cls, kw, conv, det, steps, tracks) in specs.items()]
