"""Forward (noising) processes, all in one σ-parameterisation: x_t = s(t) · (x0 + σ(t) · ε)."""
from sciffusion.common.processes.forward import (
    DiscreteProcess,
    EDMProcess,
    ForwardProcess,
    SubVPProcess,
    VEProcess,
    VPProcess,
)
from sciffusion.common.processes.schedules import (
    alpha_bar_to_sigma,
    beta_schedule,
    log_snr_to_sigma,
    rescale_zero_terminal_snr,
    sigma_to_alpha_bar,
    sigma_to_log_snr,
)

__all__ = [
    "DiscreteProcess", "EDMProcess", "ForwardProcess", "SubVPProcess", "VEProcess", "VPProcess",
    "alpha_bar_to_sigma", "beta_schedule", "log_snr_to_sigma", "rescale_zero_terminal_snr",
    "sigma_to_alpha_bar", "sigma_to_log_snr",
]
