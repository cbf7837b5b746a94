#pragma once
// Seeded Gaussian noise that is the same on every machine and run: a
// counter-based generator (SplitMix64 hashing of seed, chunk, step and element
// pair) with the Box-Muller transform in double precision. Any element can be
// produced independently, so generation parallelises and needs no state.
// models/vdrt_noise.py implements the same function for the PyTorch reference.
#include <cstdint>
#include <vector>

#include "graph/tensor.h"

namespace vdrt {

uint64_t splitmix64(uint64_t x);

// Noise for `chunk` and denoising `step` (0 = the chunk's initial noise,
// k >= 1 = the fresh noise injected before step k), float32 of `dims`.
Tensor gaussian_noise(uint64_t seed, uint64_t chunk, uint64_t step, const std::vector<int64_t>& dims);

}  // namespace vdrt
