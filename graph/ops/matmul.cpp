// Shape functions of MatMul (numpy matmul: batched, broadcast batch dims,
// 1-D operands promoted and their dim dropped again) and Gemm.
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

bool dims_conflict(const Dim& a, const Dim& b) { return a.known() && b.known() && a.value() != b.value(); }

void check_float_dtypes(InferContext& ctx, size_t n) {
  DType t = DType::Undefined;
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(i)) continue;
    DType d = ctx.input(i).dtype;
    if (d == DType::Undefined) continue;
    if (t != DType::Undefined && d != t)
      ctx.fail(std::string("inputs have different dtypes: ") + dtype_name(t) + " and " + dtype_name(d));
    t = d;
  }
}

void infer_matmul(InferContext& ctx) {
  const ValueInfo &a = ctx.input(0), &b = ctx.input(1);
  check_float_dtypes(ctx, 2);
  if (!a.shape.rank_known() || !b.shape.rank_known()) {
    ctx.set_output(0, a.dtype, Shape());
    return;
  }
  const size_t ra = a.shape.rank(), rb = b.shape.rank();
  if (ra == 0 || rb == 0) ctx.fail("MatMul operands must have rank >= 1, got " + a.shape.str() + " and " + b.shape.str());
  const Dim ka = a.shape[ra - 1], kb = rb == 1 ? b.shape[0] : b.shape[rb - 2];
  if (dims_conflict(ka, kb))
    ctx.fail("inner dimensions differ: " + a.shape.str() + " x " + b.shape.str());
  std::vector<Dim> batch_a, batch_b;
  if (ra > 2) batch_a.assign(a.shape.dims().begin(), a.shape.dims().end() - 2);
  if (rb > 2) batch_b.assign(b.shape.dims().begin(), b.shape.dims().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(Shape(batch_a), Shape(batch_b));
  } catch (const Error&) {
    ctx.fail("batch dimensions of " + a.shape.str() + " and " + b.shape.str() + " cannot be broadcast");
  }
  std::vector<Dim> out = batch.dims();
  if (ra > 1) out.push_back(a.shape[ra - 2]);
  if (rb > 1) out.push_back(b.shape[rb - 1]);
  ctx.set_output(0, a.dtype, Shape(out));
}

void infer_gemm(InferContext& ctx) {
  const ValueInfo &a = ctx.input(0), &b = ctx.input(1);
  check_float_dtypes(ctx, 3);
  const bool ta = ctx.attrs().get_int("transA", 0) != 0, tb = ctx.attrs().get_int("transB", 0) != 0;
  if (!a.shape.rank_known() || !b.shape.rank_known()) {
    ctx.set_output(0, a.dtype, Shape({Dim(), Dim()}));
    return;
  }
  if (a.shape.rank() != 2 || b.shape.rank() != 2)
    ctx.fail("Gemm needs 2-D A and B, got " + a.shape.str() + " and " + b.shape.str());
  const Dim m = a.shape[ta ? 1 : 0], ka = a.shape[ta ? 0 : 1];
  const Dim kb = b.shape[tb ? 1 : 0], n = b.shape[tb ? 0 : 1];
  if (dims_conflict(ka, kb))
    ctx.fail("inner dimensions differ: A " + a.shape.str() + (ta ? " (transposed)" : "") + ", B " + b.shape.str() +
             (tb ? " (transposed)" : ""));
  const Shape out({m, n});
  if (ctx.has_input(2)) {
    const Shape& c = ctx.input(2).shape;
    Shape bc;
    try {
      bc = broadcast_shapes(out, c);
    } catch (const Error&) {
      ctx.fail("C of shape " + c.str() + " does not broadcast to " + out.str());
    }
    if (bc.rank_known() && (bc.rank() != 2 || dims_conflict(bc[0], m) || dims_conflict(bc[1], n)))
      ctx.fail("C of shape " + c.str() + " does not broadcast to " + out.str());
  }
  ctx.set_output(0, a.dtype, out);
}

VDRT_REGISTER_OP("", "MatMul").inputs(2, 2).outputs(1, 1).set_infer(infer_matmul);
VDRT_REGISTER_OP("", "Gemm").inputs(2, 3).outputs(1, 1).set_infer(infer_gemm);

}  // namespace
}  // namespace vdrt
