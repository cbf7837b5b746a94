// Shape function of Trilu: the shape is kept; k only chooses which elements
// are zeroed, so it is not needed here.
#include "graph/op_registry.h"

namespace vdrt {

VDRT_REGISTER_OP("", "Trilu").inputs(1, 2).outputs(1, 1).set_infer([](InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  if (in.shape.rank_known() && in.shape.rank() < 2) ctx.fail("Trilu needs rank >= 2, got " + in.shape.str());
  ctx.set_output(0, in.dtype, in.shape);
});

}  // namespace vdrt
