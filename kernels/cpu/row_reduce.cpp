// Lane-split row reductions (see row_reduce.h); each is compiled for AVX2 and
// the baseline through VDRT_MULTIVERSION.
#include "kernels/cpu/row_reduce.h"

#include <cmath>
#include <limits>

#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu {
namespace {
constexpr int kLanes = 16;
}

VDRT_MULTIVERSION float row_max(const float* x, int64_t n) {
  float lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = -std::numeric_limits<float>::infinity();
  bool nan = false;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float v = x[i + l];
      nan |= v != v;
      lane[l] = v > lane[l] ? v : lane[l];
    }
  float m = -std::numeric_limits<float>::infinity();
  for (int l = 0; l < kLanes; ++l) m = lane[l] > m ? lane[l] : m;
  for (; i < n; ++i) {
    nan |= x[i] != x[i];
    m = x[i] > m ? x[i] : m;
  }
  return nan ? std::numeric_limits<float>::quiet_NaN() : m;
}

VDRT_MULTIVERSION float row_sum(const float* x, int64_t n) {
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += x[i + l];
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; i < n; ++i) s += x[i];
  return s;
}

VDRT_MULTIVERSION double row_sum_f64(const float* x, int64_t n) {
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += x[i + l];
  double s = 0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; i < n; ++i) s += x[i];
  return s;
}

VDRT_MULTIVERSION void row_moments_f64(const float* x, int64_t n, double* sum, double* sum_sq) {
  double s[kLanes] = {}, q[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double v = x[i + l];
      s[l] += v;
      q[l] += v * v;
    }
  double ts = 0, tq = 0;
  for (int l = 0; l < kLanes; ++l) ts += s[l], tq += q[l];
  for (; i < n; ++i) ts += x[i], tq += double(x[i]) * x[i];
  *sum = ts;
  *sum_sq = tq;
}

VDRT_MULTIVERSION float row_sum_sq_centered(const float* x, int64_t n, float mean) {
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float d = x[i + l] - mean;
      lane[l] += d * d;
    }
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
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
