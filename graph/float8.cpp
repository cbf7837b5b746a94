// The float8 codecs of graph/dtype.h: e4m3fn (bias 7, no infinity, one NaN
// per sign at 0x7f) and e5m2 (bias 15, IEEE-like infinities and NaNs).
// Encoding works on the float's bits with integer arithmetic only, so the
// result never depends on the floating-point environment (rounding mode,
// flush-to-zero) of the thread that converts.
#include <bit>
#include <cmath>
#include <limits>

#include "graph/dtype.h"

namespace vdrt {
namespace {

struct F8Format {
  int mant_bits;
  int bias;
  uint32_t max_code;  // largest finite magnitude
  bool has_inf;       // e5m2 has infinities, e4m3fn does not
  uint8_t nan_code;   // what NaN encodes to (sign added)
};

constexpr F8Format kE4M3{3, 7, 0x7e, false, 0x7f};
// 0x7e: the quiet NaN whose payload is the top of a float quiet NaN's, as
// truncating float -> f16 -> top byte would give (what ml_dtypes does).
constexpr F8Format kE5M2{2, 15, 0x7b, true, 0x7e};

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

// Rounds `m` right by `s` bits to nearest, ties to even.
constexpr uint32_t shift_round_even(uint32_t m, int s) {
  return (m + (1u << (s - 1)) - 1 + ((m >> s) & 1)) >> s;
}

uint8_t encode(float x, bool saturate, const F8Format& f) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  const uint32_t a = bits & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | f.nan_code;
  const uint32_t overflow = saturate ? f.max_code : (f.has_inf ? 0x7cu : 0x7fu);
  if (a == 0x7f800000u) return static_cast<uint8_t>(sign | overflow);

  const int drop = 23 - f.mant_bits;  // float mantissa bits that do not fit
  const int emin = 1 - f.bias;        // exponent of the smallest normal float8
  const int e = static_cast<int>(a >> 23) - 127;
  uint32_t code;
  if (e >= emin) {
    // Rounding the bits keeps exponent and mantissa together, so a carry out
    // of the mantissa bumps the exponent; then rebias the exponent field.
    code = shift_round_even(a, drop) - (static_cast<uint32_t>(127 - f.bias) << f.mant_bits);
  } else {
    // Below the normal range the quantum is fixed at 2^(emin - mant_bits):
    // shift the full significand further right. A result of 1 << mant_bits
    // is the smallest normal, whose code is exactly that number.
    if (a < 0x00800000u) return sign;  // float subnormals are far below half the smallest float8
    const int s = drop + (emin - e);
    if (s > 24) return sign;  // below half the smallest subnormal (or exactly half: ties to 0)
    code = shift_round_even((a & 0x7fffffu) | 0x800000u, s);
  }
  if (code > f.max_code) return static_cast<uint8_t>(sign | overflow);
  return static_cast<uint8_t>(sign | code);
}

struct DecodeTables {
  float e4m3[256], e5m2[256];
  DecodeTables() {
    for (int i = 0; i < 256; ++i) {
      e4m3[i] = decode(static_cast<uint8_t>(i), kE4M3);
      e5m2[i] = decode(static_cast<uint8_t>(i), kE5M2);
    }
  }
};

const DecodeTables& tables() {
  static const DecodeTables t;
  return t;
}

}  // namespace

float f8e4m3_to_float(uint8_t v) { return tables().e4m3[v]; }
float f8e5m2_to_float(uint8_t v) { return tables().e5m2[v]; }
uint8_t float_to_f8e4m3(float f, bool saturate) { return encode(f, saturate, kE4M3); }
uint8_t float_to_f8e5m2(float f, bool saturate) { return encode(f, saturate, kE5M2); }
const float* f8e4m3_decode_table() { return tables().e4m3; }
const float* f8e5m2_decode_table() { return tables().e5m2; }

}  // namespace vdrt
