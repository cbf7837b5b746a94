// vdrt.MulAdd: Y = A * (B + offset) + C, numpy-broadcast over all three
// inputs. fuse-modulation writes it for a DiT's adaLN modulation
// (norm(x) * (1 + scale) + shift, offset 1) and gated residual
// (x + y * gate, offset 0), so each becomes one pass over memory instead of
// two or three. The output shape is what the unfused chain would produce:
// the broadcast of A, B and C.
#include "graph/op_registry.h"

namespace vdrt {
namespace {

void infer_muladd(InferContext& ctx) {
  const DType dt = ctx.input(0).dtype;
  for (size_t i = 1; i < 3; ++i)
    if (ctx.input(i).dtype != dt)
      ctx.fail(std::string("vdrt.MulAdd inputs must share one type, got ") + dtype_name(dt) + " and " +
               dtype_name(ctx.input(i).dtype));
  if (dt != DType::Undefined && !is_float(dt))
    ctx.fail(std::string("vdrt.MulAdd takes float tensors, got ") + dtype_name(dt));
  Shape s;
  try {
    s = broadcast_shapes(broadcast_shapes(ctx.input(0).shape, ctx.input(1).shape), ctx.input(2).shape);
  } catch (const Error&) {
    ctx.fail("vdrt.MulAdd inputs " + ctx.input(0).shape.str() + ", " + ctx.input(1).shape.str() + ", " +
             ctx.input(2).shape.str() + " do not broadcast");
  }
  ctx.set_output(0, dt, s);
}

VDRT_REGISTER_OP("vdrt", "MulAdd")
    .inputs(3, 3)
    .outputs(1, 1)
    .set_infer(infer_muladd)
    .describe("Y = A * (B + offset) + C with numpy broadcasting (adaLN modulation, gated residual); attribute "
              "offset (float, default 0).");

}  // namespace
}  // namespace vdrt
