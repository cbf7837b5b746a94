// vdrt.RMSNormalization, vdrt.LayerNormalization, vdrt.Gelu and
// vdrt.GroupNormalization: the ONNX ops of the same names (opset 23, 17, 20
// and 21, per-channel scale and bias), usable in a model of any
// opset. The fusion passes emit them when a model declares an opset that
// predates the ONNX op, since raising a model's opset would change the
// meaning of its other nodes. Shapes come from the ONNX op's own function.
#include "graph/op_registry.h"

namespace vdrt {
namespace {

InferFn forward_to_onnx(const char* op, int64_t opset) {
  return [op, opset](InferContext& ctx) {
    const OpSchema* s = OpRegistry::instance().find("", op);
    if (!s || !s->infer) ctx.fail(std::string("vdrt.") + op + " needs the ONNX " + op + " shape function");
    std::vector<ValueInfo> ins;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) ins.push_back(ctx.has_input(i) ? ctx.input(i) : ValueInfo{});
    InferContext inner(ctx.node(), ins, opset);
    s->infer(inner);
    for (size_t i = 0; i < inner.outputs().size(); ++i)
      if (inner.outputs()[i].present) ctx.set_output(i, inner.outputs()[i].dtype, inner.outputs()[i].shape);
  };
}

VDRT_REGISTER_OP("vdrt", "RMSNormalization")
    .inputs(2, 2)
    .outputs(1, 1)
    .set_infer(forward_to_onnx("RMSNormalization", 23))
    .describe("ONNX RMSNormalization-23 (X, scale; axis, epsilon, stash_type) at any opset.");

VDRT_REGISTER_OP("vdrt", "LayerNormalization")
    .inputs(2, 3)
    .outputs(1, 3)
    .set_infer(forward_to_onnx("LayerNormalization", 17))
    .describe("ONNX LayerNormalization-17 (X, Scale, B; axis, epsilon, stash_type) at any opset.");

VDRT_REGISTER_OP("vdrt", "Gelu")
    .inputs(1, 1)
    .outputs(1, 1)
    .set_infer(forward_to_onnx("Gelu", 20))
    .describe("ONNX Gelu-20 (X; approximate = none | tanh) at any opset.");

VDRT_REGISTER_OP("vdrt", "GroupNormalization")
    .inputs(3, 3)
    .outputs(1, 1)
    .set_infer(forward_to_onnx("GroupNormalization", 21))
    .describe("ONNX GroupNormalization-21 (X, scale[C], bias[C]; num_groups, epsilon) at any opset.");

}  // namespace
}  // namespace vdrt
