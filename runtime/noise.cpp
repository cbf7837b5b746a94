#include "runtime/noise.h"

#include <cmath>

#include <tbb/parallel_for.h>

namespace vdrt {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Tensor gaussian_noise(uint64_t seed, uint64_t chunk, uint64_t step, const std::vector<int64_t>& dims) {
  Tensor out(DType::F32, dims);
  float* z = out.data<float>();
  const int64_t n = out.numel();
  const uint64_t stream = splitmix64(seed ^ splitmix64(chunk * 65536 + step));
  const int64_t pairs = (n + 1) / 2;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, pairs, 4096), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t j = r.begin(); j < r.end(); ++j) {
      uint64_t a = splitmix64(stream + 2 * static_cast<uint64_t>(j));
      uint64_t b = splitmix64(stream + 2 * static_cast<uint64_t>(j) + 1);
      double u1 = static_cast<double>((a >> 11) + 1) * 0x1.0p-53;
      double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;
      double radius = std::sqrt(-2.0 * std::log(u1));
      double angle = 2.0 * M_PI * u2;
      z[2 * j] = static_cast<float>(radius * std::cos(angle));
      if (2 * j + 1 < n) z[2 * j + 1] = static_cast<float>(radius * std::sin(angle));
    }
  });
  return out;
}

}  // namespace vdrt
