// Lane-split row reductions (see row_reduce.h); each is compiled for AVX2 and
// the baseline through VDRT_MULTIVERSION.
#include "kernels/cpu/row_reduce.h"

#include <cmath>
#include <limits>

#include "kernels/cpu/simd.h"
#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu {
namespace {
constexpr int kLanes = 16;
using simd::v8f;
using simd::v4d;
}

VDRT_MULTIVERSION float row_max(const float* x, int64_t n) {
  // Compare-select lanes plus a probe that turns NaN when any element is NaN
  // or infinite (v * 0); only then is the row rescanned, so that NaN
  // propagates like numpy.max without slowing the common case.
  const float ninf = -std::numeric_limits<float>::infinity();
  v8f m0 = simd::splat(ninf), m1 = m0, p0 = {}, p1 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v8f a = simd::load(x + i), b = simd::load(x + i + 8);
    m0 = a > m0 ? a : m0;
    m1 = b > m1 ? b : m1;
    p0 += a * 0.0f;
    p1 += b * 0.0f;
  }
  m0 = m1 > m0 ? m1 : m0;
  float m = simd::hmax(m0), p = simd::hsum(p0 + p1);
  for (; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    p += x[i] * 0.0f;
  }
  if (p == 0.0f) return m;
  for (int64_t j = 0; j < n; ++j)
    if (x[j] != x[j]) return x[j];
  return m;
}

VDRT_MULTIVERSION float row_sum(const float* x, int64_t n) {
  v8f s0 = {}, s1 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 += simd::load(x + i);
    s1 += simd::load(x + i + 8);
  }
  float s = simd::hsum(s0 + s1);
  for (; i < n; ++i) s += x[i];
  return s;
}

VDRT_MULTIVERSION double row_sum_f64(const float* x, int64_t n) {
  v4d s0 = {}, s1 = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8f a = simd::load(x + i);
    s0 += simd::low_f64(a);
    s1 += simd::high_f64(a);
  }
  double s = simd::hsum(s0 + s1);
  for (; i < n; ++i) s += x[i];
  return s;
}

VDRT_MULTIVERSION void row_moments_f64(const float* x, int64_t n, double* sum, double* sum_sq) {
  v4d s0 = {}, s1 = {}, q0 = {}, q1 = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8f a = simd::load(x + i);
    const v4d lo = simd::low_f64(a), hi = simd::high_f64(a);
    s0 += lo, s1 += hi;
    q0 += lo * lo, q1 += hi * hi;
  }
  double ts = simd::hsum(s0 + s1), tq = simd::hsum(q0 + q1);
  for (; i < n; ++i) ts += x[i], tq += double(x[i]) * x[i];
  *sum = ts;
  *sum_sq = tq;
}

VDRT_MULTIVERSION float row_sum_sq_centered(const float* x, int64_t n, float mean) {
  const v8f mv = simd::splat(mean);
  v8f s0 = {}, s1 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v8f a = simd::load(x + i) - mv, b = simd::load(x + i + 8) - mv;
    s0 += a * a;
    s1 += b * b;
  }
  float s = simd::hsum(s0 + s1);
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

VDRT_MULTIVERSION float row_exp_sum(const float* x, float* y, int64_t n, float shift) {
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float e = vmath::exp(x[i + l] - shift);
      y[i + l] = e;
      lane[l] += e;
    }
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; i < n; ++i) {
    y[i] = vmath::exp(x[i] - shift);
    s += y[i];
  }
  return s;
}

VDRT_MULTIVERSION void row_scale(float* y, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

}  // namespace vdrt::cpu
