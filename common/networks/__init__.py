"""Generic networks for the denoiser contract ``net(x_in, c_noise, cond)`` and the blocks they share."""
from sciffusion.common.networks.blocks import FourierEmbedding, LabelEmbedding, ResBlock, SelfAttention, count_parameters
from sciffusion.common.networks.unet2d import UNet2D, UNet2DConfig

__all__ = ["FourierEmbedding", "LabelEmbedding", "ResBlock", "SelfAttention", "UNet2D", "UNet2DConfig",
           "count_parameters"]
