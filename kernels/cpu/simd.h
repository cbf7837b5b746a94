#pragma once
// Eight-float vectors through GCC's vector extensions, for reductions that
// the auto-vectoriser will not reorder on its own. Compiled inside
// VDRT_MULTIVERSION functions they become one AVX register (x86-64-v3) or two
// SSE registers (baseline).
#include <cstdint>

#pragma GCC diagnostic ignored "-Wpsabi"

namespace vdrt::cpu::simd {

typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_unaligned __attribute__((vector_size(32), aligned(4)));
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

inline v8f load(const float* p) { return *reinterpret_cast<const v8f_unaligned*>(p); }
inline void store(float* p, const v8f& v) { *reinterpret_cast<v8f_unaligned*>(p) = v; }
inline v8f splat(float x) { return v8f{x, x, x, x, x, x, x, x}; }
inline v4d low_f64(const v8f& v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3), v4d); }
inline v4d high_f64(const v8f& v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 4, 5, 6, 7), v4d); }
inline float hsum(const v8f& v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }
inline double hsum(const v4d& v) { return (v[0] + v[2]) + (v[1] + v[3]); }
inline float hmax(const v8f& v) {
  float m = v[0];
  for (int i = 1; i < 8; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

}  // namespace vdrt::cpu::simd
