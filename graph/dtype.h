#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace vdrt {

// Element types of the IR. Values mirror nothing external on purpose: the
// importer maps ONNX's codes explicitly.
enum class DType : uint8_t {
  Undefined,
  F32,
  F16,
  BF16,
  F64,
  F8E4M3,  // float8 e4m3fn: no inf, max 448
  F8E5M2,
  I8,
  U8,
  I16,
  I32,
  I64,
  Bool,
};

size_t dtype_size(DType t);
const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);  // throws vdrt::Error if unknown
bool is_float(DType t);
bool is_integer(DType t);

// Compile-time mapping from C++ types to DTypes for typed access.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::I8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::I16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };

// Scalar conversions for the 16-bit float formats (round to nearest even).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);

// float8 codecs (graph/float8.cpp), exact in both directions. Encoding rounds
// to nearest even; a finite value that rounds past the largest finite code,
// and an infinity, becomes that largest value when `saturate` (ONNX Cast's
// default), else NaN (e4m3fn has no infinity) or infinity (e5m2). NaN stays
// NaN: 0x7f/0xff for e4m3fn, the quiet 0x7e/0xfe for e5m2.
float f8e4m3_to_float(uint8_t v);
float f8e5m2_to_float(uint8_t v);
uint8_t float_to_f8e4m3(float f, bool saturate = true);
uint8_t float_to_f8e5m2(float f, bool saturate = true);
// The 256 decoded values of each format, for kernels that decode by lookup.
const float* f8e4m3_decode_table();
const float* f8e5m2_decode_table();
inline constexpr float kF8E4M3Max = 448.0f;
inline constexpr float kF8E5M2Max = 57344.0f;

}  // namespace vdrt
