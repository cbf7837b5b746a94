"""PSNR and SSIM of decoded frames, in NumPy alone (no torch), so that evaluate.py and
bench/quality_bench.py measure the same way and the bench runs where torch is not installed.

Frames are [..., 3, H, W] in the decoder's range [-1, 1], scored on the [0, 1] scale.
"""

from __future__ import annotations

import math

import numpy as np

SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
MAX_PSNR_DB = 120.0  # identical frames: mse floored at 1e-12


def _unit(frames) -> np.ndarray:
    return (np.asarray(frames, np.float64) + 1) / 2


def mse(a, b) -> float:
    """Mean squared error on the [0, 1] scale."""
    return float(np.mean((_unit(a) - _unit(b)) ** 2))


def psnr_of_mse(value: float) -> float:
    return 10 * math.log10(1 / max(value, 1e-12))


def psnr(a, b) -> float:
    """PSNR in dB of frames in [-1, 1] (peak 1 on the [0, 1] scale); 120 dB when identical."""
    return psnr_of_mse(mse(a, b))


def _gaussian() -> np.ndarray:
    coords = np.arange(SSIM_WINDOW, dtype=np.float64) - SSIM_WINDOW // 2
    g = np.exp(-(coords**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _blur(z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable Gaussian over the last two axes, 'valid' (no padding), as a conv2d without padding."""
    n = len(g)
    rows = sum(g[k] * z[..., k : z.shape[-2] - n + 1 + k, :] for k in range(n))
    return sum(g[k] * rows[..., :, k : z.shape[-1] - n + 1 + k] for k in range(n))


def ssim_map(a, b) -> np.ndarray:
    """Per-pixel SSIM (Gaussian window 11, sigma 1.5, per channel, no padding): [..., 3, H-10, W-10]."""
    x, y, g = _unit(a), _unit(b), _gaussian()
    mx, my = _blur(x, g), _blur(y, g)
    vx, vy, cxy = _blur(x * x, g) - mx * mx, _blur(y * y, g) - my * my, _blur(x * y, g) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(a, b) -> float:
    """Mean SSIM of frames [..., 3, H, W] in [-1, 1]."""
    return float(ssim_map(a, b).mean())
