"""Video domain: datasets in zarr (Stochastic Moving MNIST, synthetic driving, real footage),
frame-prediction baselines and metrics (PSNR, SSIM, FVD). See ``docs/video.md``."""
