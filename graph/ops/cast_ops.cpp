// Shape functions of the type conversions Cast and CastLike: the shape is
// kept, only the element type changes (the conversions are in the kernel).
#include "graph/op_registry.h"
#include "graph/ops/dtype_attribute.h"

namespace vdrt {

VDRT_REGISTER_OP("", "Cast").inputs(1, 1).outputs(1, 1).set_infer([](InferContext& ctx) {
  if (!ctx.attrs().has("to")) ctx.fail("Cast needs the attribute 'to'");
  ctx.set_output(0, dtype_attribute(ctx.attrs(), "to"), ctx.input(0).shape);
});

VDRT_REGISTER_OP("", "CastLike").inputs(2, 2).outputs(1, 1).set_infer([](InferContext& ctx) {
  ctx.set_output(0, ctx.input(1).dtype, ctx.input(0).shape);
});

}  // namespace vdrt
