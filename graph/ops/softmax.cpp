// Shape functions of Softmax, LogSoftmax and Hardmax: the input's shape,
// after checking the axis against the rank.
#include "graph/op_registry.h"

namespace vdrt {
namespace {

void infer_softmax(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  if (in.shape.rank_known()) {
    const int64_t rank = static_cast<int64_t>(in.shape.rank());
    const int64_t axis = ctx.attrs().get_int("axis", ctx.opset() > 0 && ctx.opset() < 13 ? 1 : -1);
    if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
      ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  ctx.set_output(0, in.dtype, in.shape);
}

VDRT_REGISTER_OP("", "Softmax").inputs(1, 1).outputs(1, 1).set_infer(infer_softmax);
VDRT_REGISTER_OP("", "LogSoftmax").inputs(1, 1).outputs(1, 1).set_infer(infer_softmax);
VDRT_REGISTER_OP("", "Hardmax").inputs(1, 1).outputs(1, 1).set_infer(infer_softmax);

}  // namespace
}  // namespace vdrt
