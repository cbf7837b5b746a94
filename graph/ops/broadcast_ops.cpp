// Shape functions of the ops whose output shape is a broadcast or repetition
// of their inputs: Expand, Tile, Where.
#include "graph/op_registry.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

void infer_expand(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  auto target = known_ints(ctx, 1);
  if (!target) {
    const Shape& ts = ctx.input(1).shape;
    bool ok = in.shape.rank_known() && ts.rank_known() && ts.rank() == 1 && ts[0].known();
    return ctx.set_output(
        0, in.dtype, ok ? unknown_dims(std::max<size_t>(in.shape.rank(), ts[0].value())) : Shape());
  }
  for (int64_t d : *target)
    if (d < 0) ctx.fail("Expand shape " + dims_str(*target) + " has a negative dim");
  Shape out;
  try {
    out = broadcast_shapes(in.shape, Shape::from(*target));
  } catch (const Error&) {
    ctx.fail("cannot expand " + in.shape.str() + " to " + dims_str(*target));
  }
  if (out.fully_known()) checked_shape(out.concrete(), "Expand");
  ctx.set_output(0, in.dtype, out);
}

void infer_tile(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  auto reps = known_ints(ctx, 1);
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, Shape());
  if (!reps) return ctx.set_output(0, in.dtype, unknown_dims(in.shape.rank()));
  if (reps->size() != in.shape.rank())
    ctx.fail("Tile repeats " + dims_str(*reps) + " must have one entry per dim of " + in.shape.str());
  std::vector<Dim> out;
  for (size_t i = 0; i < reps->size(); ++i) {
    const int64_t r = (*reps)[i];
    if (r < 0) ctx.fail("Tile repeats " + dims_str(*reps) + " has a negative entry");
    if (in.shape[i].known()) out.emplace_back(checked_mul(in.shape[i].value(), r, "Tile"));
    else out.push_back(r == 0 ? Dim(0) : in.shape[i] * Dim(r));
  }
  Shape result(out);
  if (result.fully_known()) checked_shape(result.concrete(), "Tile");
  ctx.set_output(0, in.dtype, result);
}

void infer_where(InferContext& ctx) {
  const ValueInfo &c = ctx.input(0), &x = ctx.input(1), &y = ctx.input(2);
  if (c.dtype != DType::Bool) ctx.fail(std::string("Where condition must be bool, got ") + dtype_name(c.dtype));
  if (x.dtype != y.dtype)
    ctx.fail(std::string("Where branches must share one type, got ") + dtype_name(x.dtype) + " and " + dtype_name(y.dtype));
  ctx.set_output(0, x.dtype, broadcast_shapes(broadcast_shapes(c.shape, x.shape), y.shape));
}

}  // namespace

VDRT_REGISTER_OP("", "Expand").inputs(2, 2).outputs(1, 1).needs_values({1}).set_infer(infer_expand);
VDRT_REGISTER_OP("", "Tile").inputs(2, 2).outputs(1, 1).needs_values({1}).set_infer(infer_tile);
VDRT_REGISTER_OP("", "Where").inputs(3, 3).outputs(1, 1).set_infer(infer_where);

}  // namespace vdrt
