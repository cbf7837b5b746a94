// Shape function of Slice. The index arithmetic lives in slice_params.cpp
// (shared with the kernel); this file only deals with where the arguments
// come from (attributes in opset 1, inputs since 10) and with unknown dims.
#include "graph/op_registry.h"
#include "graph/ops/shape_fn_util.h"
#include "graph/ops/slice_params.h"

namespace vdrt {
namespace {

std::optional<std::vector<int64_t>> slice_arg(InferContext& ctx, const char* attr, size_t input, bool& present) {
  present = true;
  if (ctx.opset() < 10 && ctx.attrs().has(attr)) return ctx.attrs().get_ints(attr);
  if (ctx.opset() >= 10 && ctx.has_input(input)) return known_ints(ctx, input);
  present = false;
  return std::vector<int64_t>{};
}

void infer_slice(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  bool p_starts, p_ends, p_axes, p_steps;
  auto starts = slice_arg(ctx, "starts", 1, p_starts);
  auto ends = slice_arg(ctx, "ends", 2, p_ends);
  auto axes = slice_arg(ctx, "axes", 3, p_axes);
  auto steps = slice_arg(ctx, "steps", 4, p_steps);
  if (!p_starts || !p_ends) ctx.fail("Slice needs starts and ends");
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, Shape());
  const Shape& s = in.shape;
  const size_t r = s.rank();
  if (!starts || !ends || !axes || !steps) {
    // Arguments unknown: only axes known to be untouched keep their dims.
    Shape out = unknown_dims(r);
    if (axes && p_axes) {
      out = s;
      for (int64_t a : normalize_axes(*axes, static_cast<int64_t>(r), "Slice axes")) out[a] = Dim();
    }
    return ctx.set_output(0, in.dtype, out);
  }
  // Unknown dims are stood in for by a huge size; an axis whose result depends
  // on that stand-in stays unknown.
  constexpr int64_t kBig = int64_t{1} << 62;
  std::vector<int64_t> dims(r), probe(r);
  for (size_t i = 0; i < r; ++i) dims[i] = s[i].known() ? s[i].value() : kBig;
  std::vector<SliceRange> ranges = resolve_slice(dims, *starts, *ends, *axes, *steps);
  for (size_t i = 0; i < r; ++i) probe[i] = s[i].known() ? s[i].value() : kBig - 1;
  std::vector<SliceRange> probed = resolve_slice(probe, *starts, *ends, *axes, *steps);
  std::vector<Dim> out(r);
  for (size_t i = 0; i < r; ++i) {
    if (s[i].known()) out[i] = Dim(ranges[i].count);
    else if (ranges[i].count == dims[i] && probed[i].count == probe[i]) out[i] = s[i];  // full range kept
    else out[i] = Dim();
  }
  ctx.set_output(0, in.dtype, Shape(out));
}

}  // namespace

VDRT_REGISTER_OP("", "Slice").inputs(1, 5).outputs(1, 1).needs_values({1, 2, 3, 4}).set_infer(infer_slice);

}  // namespace vdrt
