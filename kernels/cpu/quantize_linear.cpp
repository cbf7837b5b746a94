// QuantizeLinear and DequantizeLinear: per-tensor, per-axis and blocked
// scales (graph/ops/quantize_params.h), integer and float8 types. The
// arithmetic is in f32, as in ONNX Runtime: y = saturate(round(x / scale) +
// zero_point) with ties to even, and x' = (x - zero_point) * scale. For
// float8 the division result goes through the exact float8 encoder (graph/
// float8.cpp) with the node's `saturate`; a float8 zero point is added in f32
// (ONNX keeps it in the formula though exporters leave it 0). f16/bf16
// inputs and outputs run in f32 (half_float.h).
#include <cmath>
#include <limits>

#include "graph/ops/quantize_params.h"
#include "kernels/cpu/dtype_dispatch.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

// Calls f.template operator()<Q>() with the storage type of a quantized dtype.
template <typename F>
void with_quantized_type(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::I8: return f.template operator()<int8_t>();
    case DType::U8: return f.template operator()<uint8_t>();
    case DType::I16: return f.template operator()<int16_t>();
    case DType::I32: return f.template operator()<int32_t>();
    case DType::F8E4M3: case DType::F8E5M2: return f.template operator()<uint8_t>();
    default: throw Error(std::string(op) + " does not handle " + dtype_name(t));
  }
}

bool is_float8(DType t) { return t == DType::F8E4M3 || t == DType::F8E5M2; }

float f8_value(DType t, uint8_t code) { return t == DType::F8E4M3 ? f8e4m3_to_float(code) : f8e5m2_to_float(code); }

template <typename Q>
Q round_and_saturate(float v, float zero_point) {
  const float r = std::nearbyint(v) + zero_point;  // ties to even in the default rounding mode
  if (std::isnan(r)) return Q(0);
  constexpr float lo = static_cast<float>(std::numeric_limits<Q>::min());
  constexpr float hi = static_cast<float>(std::numeric_limits<Q>::max());
  return static_cast<Q>(std::min(std::max(r, lo), hi));
}

void quantize_kernel(KernelContext& ctx) {
  const TensorView &x = ctx.in(0), &scale = ctx.in(1);
  TensorView& y = ctx.out(0);
  VDRT_CHECK(x.dtype == DType::F32 && scale.dtype == DType::F32, "QuantizeLinear takes float x and scale");
  VDRT_CHECK(is_quantized_dtype(y.dtype), std::string("QuantizeLinear cannot produce ") + dtype_name(y.dtype));
  const QuantLayout l = quant_layout(x.dims, scale.dims, ctx.attrs, "QuantizeLinear");
  const bool has_zp = ctx.has(2);
  VDRT_CHECK(!has_zp || ctx.in(2).dtype == y.dtype, "QuantizeLinear: zero point dtype differs from the output's");
  VDRT_CHECK(!has_zp || ctx.in(2).numel() == scale.numel(), "QuantizeLinear: zero point and scale differ in size");
  const bool saturate = ctx.attrs.get_int("saturate", 1) != 0;
  const float* px = x.as<float>();
  const float* ps = scale.as<float>();
  const int64_t n = x.numel();
  with_quantized_type(y.dtype, "QuantizeLinear", [&]<typename Q>() {
    const Q* zp = has_zp ? static_cast<const Q*>(ctx.in(2).data) : nullptr;
    Q* out = static_cast<Q*>(y.data);
    parallel_rows(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t si = l.scale_index(i);
        const float v = px[i] / ps[si];
        if (y.dtype == DType::F8E4M3 || y.dtype == DType::F8E5M2) {
          const float z = zp ? f8_value(y.dtype, static_cast<uint8_t>(zp[si])) : 0.0f;
          out[i] = static_cast<Q>(y.dtype == DType::F8E4M3 ? float_to_f8e4m3(v + z, saturate)
                                                           : float_to_f8e5m2(v + z, saturate));
        } else {
          out[i] = round_and_saturate<Q>(v, zp ? static_cast<float>(zp[si]) : 0.0f);
        }
      }
    });
  });
}

void dequantize_kernel(KernelContext& ctx) {
  const TensorView &x = ctx.in(0), &scale = ctx.in(1);
  TensorView& y = ctx.out(0);
  VDRT_CHECK(scale.dtype == DType::F32 && y.dtype == DType::F32, "DequantizeLinear produces float from a float scale");
  const QuantLayout l = quant_layout(x.dims, scale.dims, ctx.attrs, "DequantizeLinear");
  const bool has_zp = ctx.has(2);
  VDRT_CHECK(!has_zp || ctx.in(2).dtype == x.dtype, "DequantizeLinear: zero point dtype differs from x's");
  VDRT_CHECK(!has_zp || ctx.in(2).numel() == scale.numel(), "DequantizeLinear: zero point and scale differ in size");
  const float* ps = scale.as<float>();
  float* out = y.as<float>();
  const int64_t n = x.numel();
  with_quantized_type(x.dtype, "DequantizeLinear", [&]<typename Q>() {
    const Q* px = static_cast<const Q*>(x.data);
    const Q* zp = has_zp ? static_cast<const Q*>(ctx.in(2).data) : nullptr;
    parallel_rows(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t si = l.scale_index(i);
        if (is_float8(x.dtype)) {
          const float z = zp ? f8_value(x.dtype, static_cast<uint8_t>(zp[si])) : 0.0f;
          out[i] = (f8_value(x.dtype, static_cast<uint8_t>(px[i])) - z) * ps[si];
        } else {
          // The difference in int32 (exact for every input type but i32, where ONNX forbids a zero point).
          const int32_t d = static_cast<int32_t>(px[i]) - (zp ? static_cast<int32_t>(zp[si]) : 0);
          out[i] = static_cast<float>(d) * ps[si];
        }
      }
    });
  });
}

bool quantize_supports(const AttributeMap&, const std::vector<DType>& dts, int64_t) {
  auto floaty = [](DType t) { return t == DType::F32 || is_half_float(t); };
  return dts.size() >= 2 && floaty(dts[0]) && floaty(dts[1]);
}

bool dequantize_supports(const AttributeMap&, const std::vector<DType>& dts, int64_t) {
  return dts.size() >= 2 && (dts[1] == DType::F32 || is_half_float(dts[1]));
}

}  // namespace

VDRT_CPU_KERNEL_IF("", "QuantizeLinear", with_half_float(quantize_kernel), quantize_supports);
VDRT_CPU_KERNEL_IF("", "DequantizeLinear", with_half_float(dequantize_kernel), dequantize_supports);

}  // namespace vdrt::cpu
