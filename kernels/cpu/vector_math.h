#pragma once
// Branch-free float approximations of exp, sigmoid, tanh and erf, written as
// plain scalar code so that loops calling them auto-vectorise (glibc's
// expf/tanhf/erff are opaque calls that keep a loop scalar, and these
// functions dominate Softmax, GELU and SiLU time). Accuracy is a few ulp;
// inf, overflow and NaN behave like the libm functions.
#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments of exp: only inlined

namespace vdrt::cpu::vmath {

// e^x for a float or a GCC vector of floats (vector_size extension): the
// same operations lane by lane, so that kernels holding explicit vectors
// (the attention softmax keeps 16-lane ones, which auto-vectorisation would
// narrow to 8) get exactly the scalar results.
template <typename T>
inline T exp(T x) {
  static_assert(!std::is_arithmetic_v<T> || std::is_same_v<T, float>, "vmath::exp takes floats or float vectors");
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;         // few mantissa bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;          // 1.5 * 2^23: adding it rounds to an integer
  constexpr float kHi = 88.3762626647949f;       // keeps 2^n a normal float
  constexpr float kLo = -87.3365447504f;
  T c = x > kHi ? kHi : x;
  c = c < kLo ? kLo : c;
  T n = (c * kLog2e + kRound) - kRound;
  T r = c - n * kLn2Hi;
  r = r - n * kLn2Lo;
  // Taylor series of e^r on |r| <= ln2/2; the degree-7 term keeps it below 1 ulp.
  T p = T{} + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  T scale;
  if constexpr (std::is_same_v<T, float>) {
    scale = std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
  } else {
    typedef int32_t I __attribute__((vector_size(sizeof(T))));
    scale = std::bit_cast<T>((__builtin_convertvector(n, I) + 127) << 23);
  }
  T y = p * scale;
  y = x > 88.72283935546875f ? std::numeric_limits<float>::infinity() : y;
  y = x < kLo ? 0.0f : y;
  return y;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + vmath::exp(-x)); }

inline float tanh(float x) {
  const float ax = x < 0 ? -x : x;
  // Near zero 1 - 2/(e^2x + 1) cancels badly; the odd Taylor series is exact
  // to float precision for |x| < 0.4.
  const float x2 = ax * ax;
  float p = 21844.0f / 6081075.0f;
  p = p * x2 - 1382.0f / 155925.0f;
  p = p * x2 + 62.0f / 2835.0f;
  p = p * x2 - 17.0f / 315.0f;
  p = p * x2 + 2.0f / 15.0f;
  p = p * x2 - 1.0f / 3.0f;
  const float small = ax + ax * x2 * p;
  const float large = 1.0f - 2.0f / (vmath::exp(2.0f * ax) + 1.0f);
  const float t = ax < 0.4f ? small : large;
  return x < 0 ? -t : t;
}

inline float erf(float x) {
  const float ax = x < 0 ? -x : x;
  // |x| < 0.5: Maclaurin series. Elsewhere: Abramowitz & Stegun 7.1.26
  // (absolute error below 1.5e-7, where erf is already above 0.5).
  const float x2 = ax * ax;
  float s = 1.0f / 9360.0f;
  s = s * x2 - 1.0f / 1320.0f;
  s = s * x2 + 1.0f / 216.0f;
  s = s * x2 - 1.0f / 42.0f;
  s = s * x2 + 1.0f / 10.0f;
  s = s * x2 - 1.0f / 3.0f;
  s = s * x2 + 1.0f;
  const float small = 1.12837916709551257f * ax * s;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float q = 1.061405429f;
  q = q * t - 1.453152027f;
  q = q * t + 1.421413741f;
  q = q * t - 0.284496736f;
  q = q * t + 0.254829592f;
  const float large = 1.0f - q * t * vmath::exp(-x2);
  const float e = ax < 0.5f ? small : large;
  return x < 0 ? -e : e;
}

inline float gelu(float x) { return 0.5f * x * (1.0f + vmath::erf(x * 0.70710678118654752f)); }

inline float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286536f;
  return 0.5f * x * (1.0f + vmath::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

}  // namespace vdrt::cpu::vmath
