// Shape functions of QuantizeLinear and DequantizeLinear (opsets 10-25):
// per-tensor, per-axis and blocked scales; integer and float8 (opset 19+)
// quantized types. The output has x's shape.
#include <string>

#include "graph/op_registry.h"
#include "graph/ops/quantize_params.h"

namespace vdrt {
namespace {

bool is_float8(DType t) { return t == DType::F8E4M3 || t == DType::F8E5M2; }

// Checks the scale (and zero point) against x when their shapes are known.
void check_layout(InferContext& ctx, const char* op) {
  const Shape& x = ctx.input(0).shape;
  const Shape& s = ctx.input(1).shape;
  if (!x.fully_known() || !s.fully_known()) return;
  try {
    quant_layout(x.concrete(), s.concrete(), ctx.attrs(), op);
  } catch (const Error& e) {
    ctx.fail(e.reason());
  }
  // Same number of elements (ONNX's own tests pair a scalar scale with a [1] zero point).
  if (!ctx.has_input(2)) return;
  const Shape& z = ctx.input(2).shape;
  if (z.fully_known() && *z.numel() != *s.numel())
    ctx.fail("zero point shape " + z.str() + " does not match the scale's " + s.str());
}

void check_scale_dtype(InferContext& ctx) {
  const DType s = ctx.input(1).dtype;
  if (s != DType::Undefined && s != DType::F32 && s != DType::F16 && s != DType::BF16)
    ctx.fail(std::string("scale must be f32, f16 or bf16, got ") + dtype_name(s));
}

void infer_quantize(InferContext& ctx) {
  const DType x = ctx.input(0).dtype;
  if (x != DType::Undefined && x != DType::F32 && x != DType::F16 && x != DType::BF16)
    ctx.fail(std::string("x must be f32, f16 or bf16, got ") + dtype_name(x));
  check_scale_dtype(ctx);
  DType out;
  try {
    out = quantize_output_dtype(ctx.attrs(), ctx.has_input(2) ? ctx.input(2).dtype : DType::Undefined);
  } catch (const Error& e) {
    ctx.fail(e.reason());
  }
  if (is_float8(out) && ctx.opset() < 19)
    ctx.fail(std::string("quantizing to ") + dtype_name(out) + " needs opset 19 or later, the model has opset " +
             std::to_string(ctx.opset()));
  check_layout(ctx, "QuantizeLinear");
  ctx.set_output(0, out, ctx.input(0).shape);
}

void infer_dequantize(InferContext& ctx) {
  const DType x = ctx.input(0).dtype;
  if (x != DType::Undefined && !is_quantized_dtype(x) && x != DType::I32)
    ctx.fail(std::string("x must be u8, i8, i16, i32, f8e4m3 or f8e5m2, got ") + dtype_name(x));
  if (ctx.has_input(2) && ctx.input(2).dtype != DType::Undefined && x != DType::Undefined && ctx.input(2).dtype != x)
    ctx.fail(std::string("zero point has dtype ") + dtype_name(ctx.input(2).dtype) + ", x has " + dtype_name(x));
  check_scale_dtype(ctx);
  const DType out = dequantize_output_dtype(ctx.attrs(), ctx.input(1).dtype);
  if (out != DType::Undefined && out != DType::F32 && out != DType::F16 && out != DType::BF16)
    ctx.fail(std::string("output_dtype must be f32, f16 or bf16, got ") + dtype_name(out));
  check_layout(ctx, "DequantizeLinear");
  ctx.set_output(0, out, ctx.input(0).shape);
}

VDRT_REGISTER_OP("", "QuantizeLinear").inputs(2, 3).outputs(1, 1).set_infer(infer_quantize);
VDRT_REGISTER_OP("", "DequantizeLinear").inputs(2, 3).outputs(1, 1).set_infer(infer_dequantize);

}  // namespace
}  // namespace vdrt
