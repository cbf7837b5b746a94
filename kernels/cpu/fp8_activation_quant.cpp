#include "kernels/cpu/fp8_activation_quant.h"

#include <algorithm>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "graph/dtype.h"
#include "kernels/cpu/multiversion.h"

namespace vdrt::cpu {
namespace {

inline uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

constexpr uint32_t kMaxBits = 0x43e00000u;          // 448.0f
constexpr uint32_t kMinNormalBits = 0x3c800000u;    // 2^-6, the smallest normal e4m3
constexpr float kSubnormalMagic = 16384.0f;         // 2^14: its float ulp is 2^-9, e4m3's subnormal quantum

inline float snap(float y) {
  const uint32_t b = bits_of(y);
  const uint32_t sign = b & 0x80000000u;
  const uint32_t a = std::min(b & 0x7fffffffu, kMaxBits);  // saturate (bit order is value order for |y|)
  // Normal range: round the float's mantissa to 3 bits, ties to even; a
  // carry moves into the exponent, as it should.
  const uint32_t normal = (a + 0x7ffffu + ((a >> 20) & 1u)) & 0xfff00000u;
  // Subnormal range: adding 2^14 rounds to a multiple of 2^-9 (to nearest
  // even, the default rounding mode); subtracting it again is exact.
  const uint32_t sub = bits_of((float_of(a) + kSubnormalMagic) - kSubnormalMagic);
  return float_of(sign | (a < kMinNormalBits ? sub : normal));
}

VDRT_MULTIVERSION void quantize_row(const float* x, int64_t k, float* q, float* scale_out) {
  uint32_t amax = 0;  // the largest |x| as bits; NaN's bits exceed inf's, so NaN wins
  for (int64_t i = 0; i < k; ++i) amax = std::max(amax, bits_of(x[i]) & 0x7fffffffu);
  const float absmax = float_of(amax);
  const float scale = amax == 0 ? 1.0f : absmax / kF8E4M3Max;
  *scale_out = scale;
  for (int64_t i = 0; i < k; ++i) q[i] = snap(x[i] / scale);
}

}  // namespace

float snap_to_e4m3(float y) { return snap(y); }

void quantize_rows_e4m3(const float* a, int64_t rows, int64_t k, int64_t lda, float* q, float* row_scale,
                        bool parallel) {
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) quantize_row(a + r * lda, k, q + r * k, row_scale + r);
  };
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(k, 1));
  if (!parallel || rows * k < (int64_t(1) << 16)) return body(0, rows);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
}

}  // namespace vdrt::cpu
