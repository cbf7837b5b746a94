#include "kernels/cpu/float8.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace vdrt::cpu {
namespace {

struct F8Format {
  int mant_bits;
  int bias;
  uint8_t max_code;  // largest finite magnitude
  bool has_inf;      // e5m2 has infinities, e4m3fn does not
};

constexpr F8Format kE4M3{3, 7, 0x7e, false};
constexpr F8Format kE5M2{2, 15, 0x7b, true};

float decode(uint8_t v, const F8Format& f) {
  const int exp_bits = 7 - f.mant_bits;
  const int exp = (v >> f.mant_bits) & ((1 << exp_bits) - 1);
  const int mant = v & ((1 << f.mant_bits) - 1);
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  if (f.has_inf && exp == (1 << exp_bits) - 1)
    return mant == 0 ? sign * std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  if (!f.has_inf && (v & 0x7f) == 0x7f) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), 1 - f.bias - f.mant_bits);
  return sign * std::ldexp(static_cast<float>(mant + (1 << f.mant_bits)), exp - f.bias - f.mant_bits);
}

uint8_t encode(float x, bool saturate, const F8Format& f) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  const uint8_t overflow = saturate ? f.max_code : (f.has_inf ? 0x7c : 0x7f);
  if (std::isnan(x)) return sign | 0x7f;
  if (std::isinf(x)) return sign | overflow;
  const double a = std::fabs(static_cast<double>(x));
  int e;
  std::frexp(a, &e);                          // a = m * 2^e, m in [0.5, 1)
  int exp = std::max(e - 1, 1 - f.bias);      // below the normal range the quantum stays fixed
  const double k = std::nearbyint(std::ldexp(a, f.mant_bits - exp));  // mantissa with its leading bit
  int64_t m = static_cast<int64_t>(k);
  if (m >= (int64_t{2} << f.mant_bits)) {     // rounding carried into the next binade
    ++exp;
    m >>= 1;
  }
  int64_t code;
  if (m < (int64_t{1} << f.mant_bits)) code = m;  // subnormal (or zero)
  else code = (static_cast<int64_t>(exp + f.bias) << f.mant_bits) | (m - (int64_t{1} << f.mant_bits));
  if (code > f.max_code) return sign | overflow;
  return sign | static_cast<uint8_t>(code);
}

}  // namespace

float f8e4m3_to_float(uint8_t v) { return decode(v, kE4M3); }
float f8e5m2_to_float(uint8_t v) { return decode(v, kE5M2); }
uint8_t float_to_f8e4m3(float f, bool saturate) { return encode(f, saturate, kE4M3); }
uint8_t float_to_f8e5m2(float f, bool saturate) { return encode(f, saturate, kE5M2); }

float round_to_odd_float(double d) {
  const float f = static_cast<float>(d);
  if (static_cast<double>(f) == d || std::isnan(d)) return f;
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) b -= 1;  // step back toward zero: truncation
  b |= 1;
  float r;
  std::memcpy(&r, &b, 4);
  return r;
}

}  // namespace vdrt::cpu
