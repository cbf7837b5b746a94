// Shape functions of the ops that create tensors from shapes or attributes
// rather than moving input data: Constant, ConstantOfShape, Shape, Size,
// Range, EyeLike, Identity (and NonZero, which vdrt refuses). They sit
// together because they share one concern: knowing a value early so that
// later shape functions can use it.
#include <algorithm>
#include <cmath>

#include "graph/op_registry.h"
#include "graph/ops/constant_attribute.h"
#include "graph/ops/dtype_attribute.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

void infer_constant(InferContext& ctx) {
  Tensor t = constant_from_attributes(ctx.attrs());
  ctx.set_output(0, t.dtype(), Shape::from(t.dims()));
}

void infer_constant_of_shape(InferContext& ctx) {
  DType dt = DType::F32;
  if (ctx.attrs().has("value")) {
    const Tensor& v = ctx.attrs().get_tensor("value");
    if (v.numel() != 1) ctx.fail("ConstantOfShape value must hold exactly one element, got " + dims_str(v.dims()));
    dt = v.dtype();
  }
  const ValueInfo& in = ctx.input(0);
  if (auto dims = known_ints(ctx, 0)) {
    ctx.set_output(0, dt, checked_shape(*dims, "ConstantOfShape"));
  } else if (in.shape.rank_known() && in.shape.rank() == 1 && in.shape[0].known()) {
    ctx.set_output(0, dt, unknown_dims(static_cast<size_t>(in.shape[0].value())));
  } else {
    ctx.set_output(0, dt, Shape());
  }
}

// Shape's start/end (opset 15) clamp instead of failing.
void infer_shape(InferContext& ctx) {
  const Shape& s = ctx.input(0).shape;
  if (!s.rank_known()) return ctx.set_output(0, DType::I64, Shape(std::vector<Dim>{Dim()}));
  const int64_t r = static_cast<int64_t>(s.rank());
  auto clamp_index = [r](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + r : i, 0, r); };
  int64_t start = clamp_index(ctx.attrs().get_int("start", 0));
  int64_t end = ctx.attrs().has("end") ? clamp_index(ctx.attrs().get_int("end")) : r;
  ctx.set_output(0, DType::I64, Shape{std::max<int64_t>(end - start, 0)});
}

void infer_range(InferContext& ctx) {
  DType dt = ctx.input(0).dtype;
  for (int i = 1; i < 3; ++i)
    if (ctx.input(i).dtype != dt)
      ctx.fail(std::string("Range inputs must share one type, got ") + dtype_name(dt) + " and " +
               dtype_name(ctx.input(i).dtype));
  for (int i = 0; i < 3; ++i)
    if (ctx.input(i).shape.rank_known() && ctx.input(i).shape.numel() && *ctx.input(i).shape.numel() != 1)
      ctx.fail("Range inputs must be scalars, input " + std::to_string(i) + " has shape " + ctx.input(i).shape.str());
  const Tensor *ts = ctx.input_value(0), *tl = ctx.input_value(1), *td = ctx.input_value(2);
  if (!ts || !tl || !td) return ctx.set_output(0, dt, Shape(std::vector<Dim>{Dim()}));
  int64_t count;
  if (is_integer(dt)) {
    int64_t s = ts->as_int64()[0], l = tl->as_int64()[0], d = td->as_int64()[0];
    if (d == 0) ctx.fail("Range delta must not be 0");
    // ceil((l - s) / d) without floating point, exact for all int64 values.
    __int128 diff = static_cast<__int128>(l) - s;
    __int128 q = diff / d, r = diff % d;
    if (r != 0 && ((r > 0) == (d > 0))) ++q;
    if (q > (static_cast<__int128>(1) << 40)) ctx.fail("Range would produce more than 2^40 elements");
    count = q > 0 ? static_cast<int64_t>(q) : 0;
  } else {
    double s = ts->as_double()[0], l = tl->as_double()[0], d = td->as_double()[0];
    if (d == 0) ctx.fail("Range delta must not be 0");
    double n = std::ceil((l - s) / d);
    if (!std::isfinite(n) && !(n < 0)) ctx.fail("Range from " + std::to_string(s) + " to " + std::to_string(l) + " step " + std::to_string(d) + " has no finite length");
    if (n > 1099511627776.0) ctx.fail("Range would produce " + std::to_string(n) + " elements");
    count = n > 0 ? static_cast<int64_t>(n) : 0;
  }
  ctx.set_output(0, dt, Shape{count});
}

void infer_eye_like(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  if (in.shape.rank_known() && in.shape.rank() != 2)
    ctx.fail("EyeLike needs a 2-D input, got shape " + in.shape.str());
  DType dt = dtype_attribute(ctx.attrs(), "dtype", in.dtype);
  ctx.set_output(0, dt, in.shape.rank_known() ? in.shape : unknown_dims(2));
}

}  // namespace

VDRT_REGISTER_OP("", "Constant").inputs(0, 0).outputs(1, 1).set_infer(infer_constant);
VDRT_REGISTER_OP("", "ConstantOfShape").inputs(1, 1).outputs(1, 1).needs_values({0}).set_infer(infer_constant_of_shape);
VDRT_REGISTER_OP("", "Shape").inputs(1, 1).outputs(1, 1).set_infer(infer_shape);
VDRT_REGISTER_OP("", "Size").inputs(1, 1).outputs(1, 1).set_infer([](InferContext& ctx) {
  ctx.input(0);
  ctx.set_output(0, DType::I64, Shape(std::vector<Dim>{}));
});
VDRT_REGISTER_OP("", "Range").inputs(3, 3).outputs(1, 1).needs_values({0, 1, 2}).set_infer(infer_range);
VDRT_REGISTER_OP("", "EyeLike").inputs(1, 1).outputs(1, 1).set_infer(infer_eye_like);
VDRT_REGISTER_OP("", "Identity").inputs(1, 1).outputs(1, 1).set_infer(same_as_input(0));
VDRT_REGISTER_OP("", "NonZero").inputs(1, 1).outputs(1, 1).set_infer([](InferContext& ctx) {
  ctx.fail("unsupported: data-dependent output shape (NonZero's output size depends on the input values)");
});

}  // namespace vdrt
