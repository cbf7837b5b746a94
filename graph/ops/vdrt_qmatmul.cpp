// vdrt.QMatMul: a matrix multiply whose weight is stored as float8 e4m3
// with one float32 scale per output channel (docs/vdrt_ops.md):
//
//   Y[..., n] = act(sum_k A'[..., k] * W[k, n] * scale[n] + bias[n]) + residual[..., n]
//
// where A' is A itself (act_quant = "none") or A quantised per row (token)
// to e4m3 with scale absmax/448 and dequantised (act_quant =
// "per_token_e4m3"). passes/quantize_fp8.cpp makes it from MatMul/Gemm with
// float weights and from DequantizeLinear(float8 weight) -> MatMul;
// fuse-gemm-epilogue folds a following GELU (act) and residual Add into it.
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

bool dims_conflict(const Dim& a, const Dim& b) { return a.known() && b.known() && a.value() != b.value(); }

void infer_qmatmul(InferContext& ctx) {
  const ValueInfo &a = ctx.input(0), &w = ctx.input(1), &s = ctx.input(2);
  if (a.dtype != DType::Undefined && a.dtype != DType::F32) ctx.fail(std::string("A must be f32, got ") + dtype_name(a.dtype));
  if (w.dtype != DType::Undefined && w.dtype != DType::F8E4M3)
    ctx.fail(std::string("W must be f8e4m3, got ") + dtype_name(w.dtype));
  if (s.dtype != DType::Undefined && s.dtype != DType::F32) ctx.fail(std::string("scale must be f32, got ") + dtype_name(s.dtype));
  const std::string act = ctx.attrs().get_string("act_quant", "none");
  if (act != "none" && act != "per_token_e4m3")
    ctx.fail("act_quant must be \"none\" or \"per_token_e4m3\", got \"" + act + "\"");
  if (w.shape.rank_known() && w.shape.rank() != 2) ctx.fail("W must be 2-D [K, N], got " + w.shape.str());
  const Dim n = w.shape.rank_known() ? w.shape[1] : Dim();
  if (s.shape.rank_known() && (s.shape.rank() != 1 || dims_conflict(s.shape[0], n)))
    ctx.fail("scale must be 1-D [N] = [" + n.str() + "], got " + s.shape.str());
  const std::string activation = ctx.attrs().get_string("activation", "none");
  if (activation != "none" && activation != "gelu" && activation != "gelu_tanh")
    ctx.fail("activation must be \"none\", \"gelu\" or \"gelu_tanh\", got \"" + activation + "\"");
  if (ctx.has_input(4) && ctx.input(4).dtype != DType::Undefined && ctx.input(4).dtype != DType::F32)
    ctx.fail(std::string("residual must be f32, got ") + dtype_name(ctx.input(4).dtype));
  if (ctx.has_input(3)) {
    const ValueInfo& b = ctx.input(3);
    if (b.dtype != DType::Undefined && b.dtype != DType::F32) ctx.fail(std::string("bias must be f32, got ") + dtype_name(b.dtype));
    if (b.shape.rank_known() && (b.shape.rank() != 1 || dims_conflict(b.shape[0], n)))
      ctx.fail("bias must be 1-D [N] = [" + n.str() + "], got " + b.shape.str());
  }
  if (!a.shape.rank_known()) return ctx.set_output(0, DType::F32, Shape());
  if (a.shape.rank() == 0) ctx.fail("A must have rank >= 1");
  if (w.shape.rank_known() && dims_conflict(a.shape[a.shape.rank() - 1], w.shape[0]))
    ctx.fail("inner dimensions differ: A " + a.shape.str() + ", W " + w.shape.str());
  std::vector<Dim> out = a.shape.dims();
  out.back() = n;
  ctx.set_output(0, DType::F32, Shape(out));
}

VDRT_REGISTER_OP("vdrt", "QMatMul")
    .inputs(3, 5)
    .outputs(1, 1)
    .set_infer(infer_qmatmul)
    .describe("Y = act(A' W diag(scale) + bias) + residual with W float8 e4m3 [K, N], scale f32 [N], optional "
              "bias f32 [N], optional residual f32 of Y's shape; A f32 [..., K]. Attribute act_quant: \"none\" "
              "(A' = A) or \"per_token_e4m3\" (A' = A quantised per row to e4m3, scale absmax/448, and "
              "dequantised); activation: \"none\", \"gelu\" or \"gelu_tanh\".");

}  // namespace
}  // namespace vdrt
