"""The rollout's Gaussian noise, specified so that C++ can reproduce it bit for bit.

All integer arithmetic is on unsigned 64-bit values (wrapping, i.e. mod 2^64); all
floating-point arithmetic is IEEE double; the result is rounded to float32 at the end.

    splitmix64(x):
        x = x + 0x9E3779B97F4A7C15
        z = x
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
        return z ^ (z >> 31)

    stream(seed, chunk, step) = splitmix64(seed ^ splitmix64(chunk * 65536 + step))

step 0 is a chunk's initial noise; step k >= 1 is the fresh noise mixed in before denoising
step k (see MODEL_CONTRACT.md, "The rollout").

The tensor is filled in flattened C order ([B, F, C, H, W] for latents), two elements per
Box-Muller pair j (elements 2j and 2j+1):

    a  = splitmix64(stream + 2j)
    b  = splitmix64(stream + 2j + 1)
    u1 = ((a >> 11) + 1) * 2^-53          in (0, 1], so log(u1) is finite
    u2 = (b >> 11) * 2^-53                in [0, 1)
    r  = sqrt(-2 * log(u1))
    z[2j]     = float32(r * cos(6.283185307179586 * u2))
    z[2j + 1] = float32(r * sin(6.283185307179586 * u2))

(6.283185307179586 is the double nearest 2*pi, i.e. 2.0 * M_PI; the product with u2 is one
double multiplication.) If the element count is odd, the last pair's sine value is dropped.
"""

from __future__ import annotations

import math

import numpy as np

MASK64 = (1 << 64) - 1
TWO_PI = 2.0 * math.pi
TWO_POW_M53 = 2.0**-53


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def stream(seed: int, chunk: int, step: int) -> int:
    return splitmix64((seed & MASK64) ^ splitmix64((chunk * 65536 + step) & MASK64))


def gaussian_noise(seed: int, chunk: int, step: int, shape: tuple[int, ...]) -> np.ndarray:
    """N(0, 1) float32 noise of the given shape for (seed, chunk, step), per the module spec."""
    count = math.prod(shape)
    base = stream(seed, chunk, step)
    values = np.empty(count + (count & 1), dtype=np.float64)
    for j in range(len(values) // 2):
        a = splitmix64((base + 2 * j) & MASK64)
        b = splitmix64((base + 2 * j + 1) & MASK64)
        u1 = ((a >> 11) + 1) * TWO_POW_M53
        u2 = (b >> 11) * TWO_POW_M53
        r = math.sqrt(-2.0 * math.log(u1))
        theta = TWO_PI * u2
        values[2 * j] = r * math.cos(theta)
        values[2 * j + 1] = r * math.sin(theta)
    return values[:count].astype(np.float32).reshape(shape)


if __name__ == "__main__":
    z = gaussian_noise(42, 1, 2, (1, 3, 16, 8, 8))
    print(f"noise(42, 1, 2): mean {z.mean():+.4f} std {z.std():.4f} first {z.ravel()[:4]}")
