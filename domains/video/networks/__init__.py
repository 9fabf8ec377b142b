"""Video denoiser networks: the factorized space-time U-Net and the channel-stacking baseline.

Both follow the core's network contract ``net(x_in [B, C, T, H, W], c_noise [B], cond) -> [B, C, T, H, W]``
with ``cond`` a :class:`~sciffusion.domains.video.networks.condition.VideoCondition` (or None).
"""
from sciffusion.domains.video.networks.concat_unet import ConcatUNet, ConcatUNetConfig
from sciffusion.domains.video.networks.condition import VideoCondition, random_block_masks
from sciffusion.domains.video.networks.spacetime_unet import SpaceTimeUNet, SpaceTimeUNetConfig

__all__ = ["ConcatUNet", "ConcatUNetConfig", "SpaceTimeUNet", "SpaceTimeUNetConfig", "VideoCondition",
           "random_block_masks"]
