"""Name → sampler, so the CLI and config files can name samplers. Each entry records whether it is
stochastic and how many steps a budget of model calls buys."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sciffusion.common.samplers.adaptive import adaptive_ode
from sciffusion.common.samplers.base import Sampler
from sciffusion.common.samplers.dpm_solver import dpm_solver_1, dpmpp_2m, dpmpp_2m_sde
from sciffusion.common.samplers.exp_multistep import exp_multistep
from sciffusion.common.samplers.first_order import ddim, ddpm_ancestral, euler, euler_maruyama
from sciffusion.common.samplers.heun import heun
from sciffusion.common.samplers.linear_multistep import lms
from sciffusion.common.samplers.unipc import unipc_bh
from sciffusion.common.samplers.predictor_corrector import predictor_corrector


def _same(nfe: int) -> int:
    return nfe


def _heun_steps(nfe: int) -> int:
    return (nfe + 1) // 2  # the last step is Euler: NFE = 2 steps − 1


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler: ``fn`` with fixed ``options``; ``steps_for_nfe(budget)`` gives the grid
    length (steps) that spends at most ``budget`` model calls; ``adaptive`` samplers choose their own."""

    name: str
    fn: Callable[..., Any]
    stochastic: bool
    description: str
    options: dict = field(default_factory=dict)
    steps_for_nfe: Callable[[int], int] = _same
    adaptive: bool = False

    def __call__(self, denoise, sigmas, x, *, generator=None, callback=None, **overrides):
        return self.fn(denoise, sigmas, x, generator=generator, callback=callback, **{**self.options, **overrides})


_SPECS = [
    SamplerSpec("euler", euler, False, "Euler on the PF-ODE"),
    SamplerSpec("heun", heun, False, "Heun 2nd order (EDM Alg. 1/2), churn options", steps_for_nfe=_heun_steps),
    SamplerSpec("heun_churn", heun, True, "Heun with EDM churn (S_churn 40, S_tmin 0.05, S_tmax 50, S_noise 1.003)",
                {"s_churn": 40.0, "s_tmin": 0.05, "s_tmax": 50.0, "s_noise": 1.003}, _heun_steps),
    SamplerSpec("ddim", ddim, False, "DDIM, eta = 0"),
    SamplerSpec("ddpm", ddpm_ancestral, True, "ancestral DDPM (DDIM eta = 1)"),
    SamplerSpec("euler_maruyama", euler_maruyama, True, "Euler-Maruyama on the reverse SDE"),
    SamplerSpec("pc", predictor_corrector, True, "reverse-diffusion predictor + 1 Langevin corrector (snr 0.16)",
                {"snr": 0.16, "corrector_steps": 1}, lambda nfe: (nfe + 1) // 2),
    SamplerSpec("dpm_solver_1", dpm_solver_1, False, "first-order DPM-Solver"),
    SamplerSpec("dpmpp_2m", dpmpp_2m, False, "DPM-Solver++(2M)"),
    SamplerSpec("dpmpp_2m_sde", dpmpp_2m_sde, True, "SDE-DPM-Solver++(2M), eta 1, midpoint"),
    SamplerSpec("exp3m", exp_multistep, False, "exponential-integrator multistep, order 3 (DPM-Solver++(3M)-like)",
                {"order": 3}),
    SamplerSpec("unipc", exp_multistep, False, "UniPC, exact exp-integrator weights, order 2 (+1 corrector)",
                {"order": 2, "corrector": True}),
    SamplerSpec("unipc3", exp_multistep, False, "UniPC, exact exp-integrator weights, order 3 (+1 corrector)",
                {"order": 3, "corrector": True}),
    SamplerSpec("unipc_bh1", unipc_bh, False, "UniPC (Zhao et al. 2023) B(h)=h, order 2 (+1 corrector), final correction",
                {"order": 2, "variant": "bh1"}),
    SamplerSpec("unipc_bh2", unipc_bh, False, "UniPC B(h)=e^h-1, order 2 (+1 corrector), final correction",
                {"order": 2, "variant": "bh2"}),
    SamplerSpec("unipc3_bh2", unipc_bh, False, "UniPC B(h)=e^h-1, order 3 (+1 corrector), final correction",
                {"order": 3, "variant": "bh2"}),
    SamplerSpec("lms", lms, False, "linear multistep (variable-step Adams-Bashforth 4 in sigma on eps)",
                {"order": 4}),
    SamplerSpec("lms_pc", lms, False, "Adams-Bashforth 4 + Adams-Moulton corrector (PEC) in sigma, final correction",
                {"order": 4, "corrector": True}),
    SamplerSpec("ipndm", lms, False, "iPNDM (Zhang & Chen 2023): fixed Adams-Bashforth 4 coefficients in sigma",
                {"order": 4, "variable_step": False}),
    SamplerSpec("adaptive_ode", adaptive_ode, False, "adaptive PF-ODE (torchdiffeq dopri5, rtol=atol=1e-3)",
                {"rtol": 1e-3, "atol": 1e-3}, adaptive=True),
]

SAMPLERS: dict[str, SamplerSpec] = {s.name: s for s in _SPECS}


def get_sampler(name: str, **options: Any) -> SamplerSpec:
    """Look up a sampler by name; ``options`` override its defaults (e.g. ``eta=0.5``)."""
    if name not in SAMPLERS:
        raise ValueError(f"sampler: unknown {name!r} (choose one of {', '.join(SAMPLERS)})")
    spec = SAMPLERS[name]
    if not options:
        return spec
    return SamplerSpec(spec.name, spec.fn, spec.stochastic, spec.description, {**spec.options, **options},
                       spec.steps_for_nfe, spec.adaptive)


def register(spec: SamplerSpec) -> None:
    """Add a sampler (e.g. from a plug-in); refuses to replace an existing name."""
    if spec.name in SAMPLERS:
        raise ValueError(f"sampler: {spec.name!r} is already registered")
    SAMPLERS[spec.name] = spec


__all__ = ["SAMPLERS", "Sampler", "SamplerSpec", "get_sampler", "register"]
