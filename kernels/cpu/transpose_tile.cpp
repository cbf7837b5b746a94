// Implements transpose_tile.h; the SIMD variants are chosen once at run time.
#include "kernels/cpu/transpose_tile.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VDRT_X86 1
#endif

namespace vdrt::cpu {
namespace {

template <typename T>
void scalar_tile(const T* s, int64_t sc, T* d, int64_t dr, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) d[r * dr + c] = s[c * sc + r];
}

#ifdef VDRT_X86
void tile4_sse(const float* s, int64_t sc, float* d, int64_t dr, int64_t rows, int64_t cols) {
  const int64_t r4 = rows & ~int64_t{3}, c4 = cols & ~int64_t{3};
  for (int64_t c = 0; c < c4; c += 4)
    for (int64_t r = 0; r < r4; r += 4) {
      __m128 a = _mm_loadu_ps(s + c * sc + r), b = _mm_loadu_ps(s + (c + 1) * sc + r);
      __m128 e = _mm_loadu_ps(s + (c + 2) * sc + r), f = _mm_loadu_ps(s + (c + 3) * sc + r);
      _MM_TRANSPOSE4_PS(a, b, e, f);
      _mm_storeu_ps(d + r * dr + c, a);
      _mm_storeu_ps(d + (r + 1) * dr + c, b);
      _mm_storeu_ps(d + (r + 2) * dr + c, e);
      _mm_storeu_ps(d + (r + 3) * dr + c, f);
    }
  scalar_tile(s, sc, d, dr, r4, rows, 0, cols);
  scalar_tile(s, sc, d, dr, 0, r4, c4, cols);
}

__attribute__((target("avx"))) void tile8_avx(const float* s, int64_t sc, float* d, int64_t dr, int64_t rows,
                                             int64_t cols) {
  const int64_t r8 = rows & ~int64_t{7}, c8 = cols & ~int64_t{7};
  for (int64_t c = 0; c < c8; c += 8)
    for (int64_t r = 0; r < r8; r += 8) {
      __m256 v[8], t[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(s + (c + i) * sc + r);
      // Classic three-stage 8x8 transpose: interleave pairs, then quads, then 128-bit halves.
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        v[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        v[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        v[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        v[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      for (int i = 0; i < 4; ++i) {
        t[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
      }
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + (r + i) * dr + c, t[i]);
    }
  tile4_sse(s + r8, sc, d + r8 * dr, dr, rows - r8, cols);          // leftover rows
  tile4_sse(s + c8 * sc, sc, d + c8, dr, r8, cols - c8);            // leftover columns
}

// __builtin_cpu_init must run before __builtin_cpu_supports when this is
// evaluated from a static initialiser (which may precede libgcc's own).
bool has_avx() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
  }();
  return yes;
}
#endif

}  // namespace

void transpose_tile(size_t es, const uint8_t* src, int64_t sc, uint8_t* dst, int64_t dr, int64_t rows, int64_t cols) {
  switch (es) {
#ifdef VDRT_X86
    case 4:
      if (has_avx()) tile8_avx(reinterpret_cast<const float*>(src), sc, reinterpret_cast<float*>(dst), dr, rows, cols);
      else tile4_sse(reinterpret_cast<const float*>(src), sc, reinterpret_cast<float*>(dst), dr, rows, cols);
      return;
#else
    case 4: return scalar_tile(reinterpret_cast<const uint32_t*>(src), sc, reinterpret_cast<uint32_t*>(dst), dr, 0, rows, 0, cols);
#endif
    case 1: return scalar_tile(src, sc, dst, dr, 0, rows, 0, cols);
    case 2: return scalar_tile(reinterpret_cast<const uint16_t*>(src), sc, reinterpret_cast<uint16_t*>(dst), dr, 0, rows, 0, cols);
    case 8: return scalar_tile(reinterpret_cast<const uint64_t*>(src), sc, reinterpret_cast<uint64_t*>(dst), dr, 0, rows, 0, cols);
    default:
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) std::memcpy(dst + (r * dr + c) * es, src + (c * sc + r) * es, es);
  }
}

}  // namespace vdrt::cpu
