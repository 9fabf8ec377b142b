"""Frame-prediction metrics: PSNR and SSIM per frame and per clip, FVD with an I3D Kinetics-400 extractor."""
