"""Generic networks for the denoiser contract ``net(x_in, c_noise, cond)``."""
from sciffusion.common.networks.unet2d import UNet2D, UNet2DConfig, count_parameters

__all__ = ["UNet2D", "UNet2DConfig", "count_parameters"]
