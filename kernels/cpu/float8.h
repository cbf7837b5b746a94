#pragma once
// Float8 helpers of the CPU kernels. The codecs themselves belong to the IR
// dtype (graph/dtype.h, graph/float8.cpp); they are re-exported here so that
// kernels keep one spelling, and the conversion exists once.
#include <cstdint>

#include "graph/dtype.h"

namespace vdrt::cpu {

using vdrt::f8e4m3_to_float;
using vdrt::f8e5m2_to_float;
using vdrt::float_to_f8e4m3;
using vdrt::float_to_f8e5m2;

// Rounds a double to float "to odd" (truncate, then set the last bit when
// inexact). A second rounding from that float to any format with at least
// two fewer mantissa bits then equals a single correct rounding of the
// double, which is how f64 -> f16/bf16/f8 avoids double-rounding errors.
float round_to_odd_float(double d);

}  // namespace vdrt::cpu
