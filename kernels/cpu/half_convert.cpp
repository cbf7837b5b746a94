// Implements half_convert.h; F16C is detected at run time, the scalar loops are the fallback.
#include "kernels/cpu/half_convert.h"

#include <cstring>

#include "graph/dtype.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vdrt::cpu {
namespace {

#if defined(__x86_64__)
// __builtin_cpu_init must run before __builtin_cpu_supports when this is
// evaluated from a static initialiser (which may precede libgcc's own).
bool has_f16c() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  }();
  return yes;
}

__attribute__((target("avx,f16c"))) int64_t f32_to_f16_f16c(const float* s, uint16_t* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
  return i;
}

__attribute__((target("avx,f16c"))) int64_t f16_to_f32_f16c(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  return i;
}
#endif

}  // namespace

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
#if defined(__x86_64__)
  if (has_f16c()) i = f32_to_f16_f16c(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__x86_64__)
  if (has_f16c()) i = f16_to_f32_f16c(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

// bf16 is the top half of an f32, so these loops are plain integer
// arithmetic the compiler vectorises; NaNs stay NaN (quietened).
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t x;
    std::memcpy(&x, src + i, 4);
    const bool nan = (x & 0x7fffffffu) > 0x7f800000u;
    const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1)) >> 16;
    dst[i] = static_cast<uint16_t>(nan ? (x >> 16) | 0x40 : rounded);
  }
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t x = static_cast<uint32_t>(src[i]) << 16;
    std::memcpy(dst + i, &x, 4);
  }
}

}  // namespace vdrt::cpu
