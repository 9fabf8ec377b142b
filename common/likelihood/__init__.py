"""Log-likelihoods of diffusion models: by the probability-flow ODE (exact or Hutchinson trace), and
conditional ones compared by the denoising ELBO (:mod:`.elbo`)."""
from sciffusion.common.likelihood.dequantize import UINT8_SCALE, bits_per_dim, dequantize_uint8, scale_offset_nats
from sciffusion.common.likelihood.divergence import draw_probes, exact_trace, hutchinson_trace
from sciffusion.common.likelihood.elbo import conditional_log_likelihoods, log_sigma_weights
from sciffusion.common.likelihood.pf_ode import LikelihoodConfig, LikelihoodResult, gaussian_log_prob, log_likelihood

__all__ = ["LikelihoodConfig", "LikelihoodResult", "UINT8_SCALE", "bits_per_dim", "conditional_log_likelihoods",
           "dequantize_uint8", "draw_probes", "exact_trace", "gaussian_log_prob", "hutchinson_trace", "log_likelihood",
           "log_sigma_weights", "scale_offset_nats"]
