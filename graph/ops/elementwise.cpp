// Shape functions of the elementwise math ops: numpy broadcasting for the
// binary and variadic ones, the input's shape for the unary ones.
#include <climits>
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

// Broadcasts every present input; all must share one dtype unless
// `mixed_ok`. The output dtype is `out`, or the inputs' dtype.
InferFn broadcast_same_dtype(DType out = DType::Undefined, bool mixed_ok = false) {
  return [out, mixed_ok](InferContext& ctx) {
    const ValueInfo& first = ctx.input(0);
    Shape s = first.shape;
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) continue;
      const ValueInfo& in = ctx.input(i);
      if (!mixed_ok && first.dtype != DType::Undefined && in.dtype != DType::Undefined && in.dtype != first.dtype)
        ctx.fail(std::string("inputs have different dtypes: ") + dtype_name(first.dtype) + " and " +
                 dtype_name(in.dtype));
      s = broadcast_shapes(s, in.shape);
    }
    ctx.set_output(0, out == DType::Undefined ? first.dtype : out, s);
  };
}

InferFn unary_to(DType out) {
  return [out](InferContext& ctx) { ctx.set_output(0, out, ctx.input(0).shape); };
}

// PRelu: the slope broadcasts to X only in one direction.
void infer_prelu(InferContext& ctx) {
  const ValueInfo &x = ctx.input(0), &slope = ctx.input(1);
  const Shape s = broadcast_shapes(x.shape, slope.shape);
  if (s.rank_known() && x.shape.rank_known() && s.rank() != x.shape.rank())
    ctx.fail("slope of shape " + slope.shape.str() + " does not broadcast to X of shape " + x.shape.str());
  ctx.set_output(0, x.dtype, x.shape.fully_known() ? x.shape : s);
}

void infer_clip(InferContext& ctx) {
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    const Shape& b = ctx.input(i).shape;
    if (b.fully_known() && b.numel() != 1) ctx.fail("min and max must be scalars, got shape " + b.str());
  }
  ctx.set_output(0, ctx.input(0).dtype, ctx.input(0).shape);
}

#define VDRT_BINARY(name, infer) VDRT_REGISTER_OP("", name).inputs(2, 2).outputs(1, 1).set_infer(infer)
#define VDRT_UNARY(name) VDRT_REGISTER_OP("", name).inputs(1, 1).outputs(1, 1).set_infer(same_as_input(0))

VDRT_BINARY("Add", broadcast_same_dtype());
VDRT_BINARY("Sub", broadcast_same_dtype());
VDRT_BINARY("Mul", broadcast_same_dtype());
VDRT_BINARY("Div", broadcast_same_dtype());
VDRT_BINARY("Mod", broadcast_same_dtype());
VDRT_BINARY("Pow", broadcast_same_dtype(DType::Undefined, true));
VDRT_BINARY("BitwiseAnd", broadcast_same_dtype());
VDRT_BINARY("BitwiseOr", broadcast_same_dtype());
VDRT_BINARY("BitwiseXor", broadcast_same_dtype());
VDRT_BINARY("Equal", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("Less", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("LessOrEqual", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("Greater", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("GreaterOrEqual", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("And", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("Or", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("Xor", broadcast_same_dtype(DType::Bool));
VDRT_BINARY("PRelu", infer_prelu);
VDRT_REGISTER_OP("", "Sum").inputs(1, INT_MAX).outputs(1, 1).set_infer(broadcast_same_dtype());
VDRT_REGISTER_OP("", "Mean").inputs(1, INT_MAX).outputs(1, 1).set_infer(broadcast_same_dtype());
VDRT_REGISTER_OP("", "Max").inputs(1, INT_MAX).outputs(1, 1).set_infer(broadcast_same_dtype());
VDRT_REGISTER_OP("", "Min").inputs(1, INT_MAX).outputs(1, 1).set_infer(broadcast_same_dtype());

VDRT_UNARY("Abs");
VDRT_UNARY("Neg");
VDRT_UNARY("Sign");
VDRT_UNARY("Relu");
VDRT_UNARY("Sqrt");
VDRT_UNARY("Reciprocal");
VDRT_UNARY("Exp");
VDRT_UNARY("Log");
VDRT_UNARY("Cos");
VDRT_UNARY("Sin");
VDRT_UNARY("Tan");
VDRT_UNARY("Acos");
VDRT_UNARY("Asin");
VDRT_UNARY("Atan");
VDRT_UNARY("Sinh");
VDRT_UNARY("Cosh");
VDRT_UNARY("Asinh");
VDRT_UNARY("Acosh");
VDRT_UNARY("Atanh");
VDRT_UNARY("Tanh");
VDRT_UNARY("Sigmoid");
VDRT_UNARY("Erf");
VDRT_UNARY("Floor");
VDRT_UNARY("Ceil");
VDRT_UNARY("Round");
VDRT_UNARY("Softplus");
VDRT_UNARY("Softsign");
VDRT_UNARY("Mish");
VDRT_UNARY("HardSwish");
VDRT_UNARY("LeakyRelu");
VDRT_UNARY("Elu");
VDRT_UNARY("Celu");
VDRT_UNARY("Selu");
VDRT_UNARY("HardSigmoid");
VDRT_UNARY("ThresholdedRelu");
VDRT_UNARY("Shrink");
VDRT_UNARY("Gelu");
VDRT_UNARY("BitwiseNot");
VDRT_REGISTER_OP("", "Not").inputs(1, 1).outputs(1, 1).set_infer(unary_to(DType::Bool));
VDRT_REGISTER_OP("", "IsNaN").inputs(1, 1).outputs(1, 1).set_infer(unary_to(DType::Bool));
VDRT_REGISTER_OP("", "IsInf").inputs(1, 1).outputs(1, 1).set_infer(unary_to(DType::Bool));
VDRT_REGISTER_OP("", "Clip").inputs(1, 3).outputs(1, 1).set_infer(infer_clip);

}  // namespace
}  // namespace vdrt
