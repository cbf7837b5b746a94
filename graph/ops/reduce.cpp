// Shape functions of the Reduce* ops. Axes come from the attribute (opset <
// 13 for ReduceSum, < 18 for the others) or from input 1; with no axes the
// op reduces everything, unless noop_with_empty_axes keeps every dim.
#include <algorithm>
#include <optional>
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

// The axes to reduce, or nullopt when they are an input whose contents are
// not known yet. An empty result with noop=false means "all axes".
std::optional<std::vector<int64_t>> reduce_axes(InferContext& ctx) {
  if (ctx.has_input(1)) {
    const Tensor* t = ctx.input_value(1);
    if (!t) return std::nullopt;
    return t->as_int64();
  }
  return ctx.attrs().get_ints("axes", {});
}

void infer_reduce(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  const bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  const bool noop = ctx.attrs().get_int("noop_with_empty_axes", 0) != 0;
  if (ctx.has_input(1) && ctx.input(1).shape.rank_known() && ctx.input(1).shape.rank() > 1)
    ctx.fail("axes must be a 1-D tensor, got shape " + ctx.input(1).shape.str());
  auto axes = reduce_axes(ctx);
  if (!in.shape.rank_known() || !axes) {
    if (keepdims && in.shape.rank_known()) ctx.set_output(0, in.dtype, Shape(std::vector<Dim>(in.shape.rank())));
    else ctx.set_output(0, in.dtype, Shape());
    return;
  }
  const int64_t rank = static_cast<int64_t>(in.shape.rank());
  std::vector<bool> reduced(static_cast<size_t>(rank), axes->empty() && !noop), seen(static_cast<size_t>(rank));
  for (int64_t a : *axes) {
    if (a < -rank || a >= rank)
      ctx.fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    const int64_t n = a < 0 ? a + rank : a;
    if (seen[n]) ctx.fail("axis " + std::to_string(a) + " is listed twice");
    seen[n] = reduced[n] = true;
  }
  std::vector<Dim> out;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i]) out.push_back(in.shape[i]);
    else if (keepdims) out.emplace_back(1);
  }
  ctx.set_output(0, in.dtype, Shape(out));
}

#define VDRT_REDUCE(name) \
  VDRT_REGISTER_OP("", name).inputs(1, 2).outputs(1, 1).needs_values({1}).set_infer(infer_reduce)

VDRT_REDUCE("ReduceSum");
VDRT_REDUCE("ReduceMean");
VDRT_REDUCE("ReduceMax");
VDRT_REDUCE("ReduceMin");
VDRT_REDUCE("ReduceProd");
VDRT_REDUCE("ReduceSumSquare");
VDRT_REDUCE("ReduceL1");
VDRT_REDUCE("ReduceL2");
VDRT_REDUCE("ReduceLogSum");
VDRT_REDUCE("ReduceLogSumExp");

}  // namespace
}  // namespace vdrt
