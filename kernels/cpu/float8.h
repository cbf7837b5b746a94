#pragma once
// Scalar codecs for the two float8 formats vdrt stores (e4m3fn, e5m2), with
// ONNX Cast's `saturate` semantics. Separate from cast_kernels.cpp so that
// other kernels (quantisation) can share them.
#include <cstdint>

namespace vdrt::cpu {

float f8e4m3_to_float(uint8_t v);
float f8e5m2_to_float(uint8_t v);
// Round to nearest even. Out-of-range values and infinities become the
// largest finite value when `saturate`, else NaN (e4m3fn has no infinity)
// or infinity (e5m2).
uint8_t float_to_f8e4m3(float f, bool saturate);
uint8_t float_to_f8e5m2(float f, bool saturate);

// Rounds a double to float "to odd" (truncate, then set the last bit when
// inexact). A second rounding from that float to any format with at least
// two fewer mantissa bits then equals a single correct rounding of the
// double, which is how f64 -> f16/bf16/f8 avoids double-rounding errors.
float round_to_odd_float(double d);

}  // namespace vdrt::cpu
