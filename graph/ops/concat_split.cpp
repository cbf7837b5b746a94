// Shape functions of Concat and Split, the two ops that join or cut along one
// axis. Split's sizes come from three places across opsets (attribute before
// 13, input since 13, num_outputs since 18); split_sizes() decides.
#include <numeric>

#include "graph/op_registry.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

void infer_concat(InferContext& ctx) {
  if (!ctx.has_input(0)) ctx.fail("Concat needs at least one input");
  DType dt = ctx.input(0).dtype;
  size_t rank = 0;
  bool rank_known = false;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const ValueInfo& in = ctx.input(i);
    if (in.dtype != dt)
      ctx.fail(std::string("Concat inputs must share one type, got ") + dtype_name(dt) + " and " + dtype_name(in.dtype));
    if (!in.shape.rank_known()) continue;
    if (rank_known && in.shape.rank() != rank)
      ctx.fail("Concat inputs have different ranks: " + ctx.input(0).shape.str() + " and " + in.shape.str());
    rank = in.shape.rank();
    rank_known = true;
  }
  if (!rank_known) return ctx.set_output(0, dt, Shape());
  const int64_t axis = normalize_axis(ctx.attrs().get_int("axis"), static_cast<int64_t>(rank));
  std::vector<Dim> out(rank);
  Dim total(0);
  bool total_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.input(i).shape;
    if (!s.rank_known()) { total_known = false; continue; }
    for (size_t d = 0; d < rank; ++d) {
      if (static_cast<int64_t>(d) == axis) continue;
      if (out[d].unknown()) out[d] = s[d];
      else if (out[d].known() && s[d].known() && out[d] != s[d])
        ctx.fail("Concat along axis " + std::to_string(axis) + " needs equal other dims, got " +
                 ctx.input(0).shape.str() + " and " + s.str());
      else if (!out[d].known() && s[d].known()) out[d] = s[d];
    }
    total = total + s[axis];
  }
  out[axis] = total_known ? total : Dim();
  ctx.set_output(0, dt, Shape(out));
}

// Sizes of Split's outputs along the axis of size `dim` (-1 when unknown);
// entries are -1 where they cannot be known yet.
std::vector<int64_t> split_sizes(InferContext& ctx, int64_t dim) {
  const int64_t n = static_cast<int64_t>(ctx.num_outputs());
  std::optional<std::vector<int64_t>> split;
  if (ctx.attrs().has("split")) split = ctx.attrs().get_ints("split");
  else if (ctx.has_input(1)) {
    split = known_ints(ctx, 1);
    if (!split) return std::vector<int64_t>(n, -1);
  }
  if (split) {
    if (static_cast<int64_t>(split->size()) != n)
      ctx.fail("Split has " + std::to_string(n) + " outputs but split lists " + std::to_string(split->size()) + " sizes");
    int64_t sum = 0;
    for (int64_t s : *split) {
      if (s < 0) ctx.fail("Split size " + std::to_string(s) + " is negative");
      if (__builtin_add_overflow(sum, s, &sum)) ctx.fail("Split sizes " + dims_str(*split) + " overflow");
    }
    if (dim >= 0 && sum != dim)
      ctx.fail("Split sizes " + dims_str(*split) + " add up to " + std::to_string(sum) + ", but the axis has size " +
               std::to_string(dim));
    return *split;
  }
  if (ctx.attrs().has("num_outputs") && ctx.attrs().get_int("num_outputs") != n)
    ctx.fail("Split num_outputs is " + std::to_string(ctx.attrs().get_int("num_outputs")) + " but the node has " +
             std::to_string(n) + " outputs");
  if (dim < 0) return std::vector<int64_t>(n, -1);
  if (ctx.attrs().has("num_outputs")) {
    // Opset 18: equal chunks rounded up, the last one takes the remainder.
    int64_t chunk = (dim + n - 1) / n;
    int64_t last = dim - chunk * (n - 1);
    if (last < 0)
      ctx.fail("Split cannot cut an axis of size " + std::to_string(dim) + " into " + std::to_string(n) + " chunks");
    std::vector<int64_t> sizes(n, chunk);
    sizes.back() = last;
    return sizes;
  }
  if (dim % n != 0)
    ctx.fail("Split cannot cut an axis of size " + std::to_string(dim) + " into " + std::to_string(n) + " equal parts");
  return std::vector<int64_t>(n, dim / n);
}

void infer_split(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  const size_t n = ctx.num_outputs();
  if (!in.shape.rank_known()) {
    for (size_t i = 0; i < n; ++i) ctx.set_output(i, in.dtype, Shape());
    return;
  }
  const int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), static_cast<int64_t>(in.shape.rank()));
  const Dim& d = in.shape[axis];
  std::vector<int64_t> sizes = split_sizes(ctx, d.known() ? d.value() : -1);
  for (size_t i = 0; i < n; ++i) {
    Shape s = in.shape;
    s[axis] = sizes[i] >= 0 ? Dim(sizes[i]) : Dim();
    ctx.set_output(i, in.dtype, s);
  }
}

}  // namespace

VDRT_REGISTER_OP("", "Concat").inputs(1, 1 << 20).outputs(1, 1).set_infer(infer_concat);
VDRT_REGISTER_OP("", "Split").inputs(1, 2).outputs(1, 1 << 20).needs_values({1}).set_infer(infer_split);

}  // namespace vdrt
