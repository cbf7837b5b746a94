// Shape functions of Resize (opsets 10-19) and the deprecated Upsample. The
// size arithmetic is in resize_params.cpp, shared with the kernel; this file
// finds the scales/sizes arguments, which moved between opsets, and handles
// dims that are not known yet.
#include <cmath>

#include "graph/op_registry.h"
#include "graph/ops/resize_params.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

// Present and non-empty (exporters pass an empty tensor for "not given").
bool given(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return false;
  const Shape& s = ctx.input(i).shape;
  return !(s.fully_known() && *s.numel() == 0);
}

void infer_resize_like(InferContext& ctx, bool upsample) {
  const ValueInfo& in = ctx.input(0);
  ResizeAttrs a = resize_attrs(ctx.attrs(), ctx.opset(), upsample);
  if (!is_float(in.dtype) && !is_integer(in.dtype))
    ctx.fail(std::string("Resize does not handle ") + dtype_name(in.dtype) + " data");
  const size_t scales_at = upsample || ctx.opset() < 11 ? 1 : 2;
  std::optional<std::vector<double>> scales;
  std::optional<std::vector<int64_t>> sizes;
  bool has_scales = false, has_sizes = false;
  if (upsample && ctx.attrs().has("scales")) {  // Upsample-7
    std::vector<float> f = ctx.attrs().get_floats("scales");
    scales = std::vector<double>(f.begin(), f.end());
    has_scales = true;
  } else if (given(ctx, scales_at)) {
    has_scales = true;
    scales = known_doubles(ctx, scales_at);
  }
  if (scales_at == 2 && given(ctx, 3)) {
    has_sizes = true;
    sizes = known_ints(ctx, 3);
  }
  if (has_scales == has_sizes) {
    // Both unknown-but-present empties are ambiguous until values arrive.
    bool maybe_empty = (has_scales && !scales) || (has_sizes && !sizes);
    if (!maybe_empty) ctx.fail(has_scales ? "Resize takes scales or sizes, not both" : "Resize needs scales or sizes");
  }
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, Shape());
  const size_t r = in.shape.rank();
  if ((has_scales && !scales) || (has_sizes && !sizes)) {
    Shape out = unknown_dims(r);
    if (!a.axes.empty()) {
      out = in.shape;
      for (int64_t ax : normalize_axes(a.axes, static_cast<int64_t>(r), "Resize axes")) out[ax] = Dim();
    }
    return ctx.set_output(0, in.dtype, out);
  }
  if (scales && scales->empty()) scales.reset();
  if (sizes && sizes->empty()) sizes.reset();
  if (in.shape.fully_known()) {
    std::vector<float> sf;
    if (scales) sf.assign(scales->begin(), scales->end());
    ResizePlan p = plan_resize(in.shape.concrete(), sf, sizes ? *sizes : std::vector<int64_t>{}, a.axes, a.policy);
    return ctx.set_output(0, in.dtype, checked_shape(p.out_dims, "Resize"));
  }
  // Some dims unknown: resolve what does not depend on them.
  std::vector<int64_t> axes = a.axes;
  if (axes.empty())
    for (size_t i = 0; i < r; ++i) axes.push_back(static_cast<int64_t>(i));
  axes = normalize_axes(axes, static_cast<int64_t>(r), "Resize axes");
  size_t n = scales ? scales->size() : sizes->size();
  if (n != axes.size())
    ctx.fail("Resize " + std::string(scales ? "scales" : "sizes") + " has " + std::to_string(n) +
             " entries for " + std::to_string(axes.size()) + " axes");
  Shape out = in.shape;
  for (size_t i = 0; i < n; ++i) {
    const Dim& d = in.shape[axes[i]];
    if (sizes) {
      out[axes[i]] = a.policy == "stretch" ? Dim((*sizes)[i]) : Dim();
    } else {
      double s = static_cast<float>((*scales)[i]);
      if (d.known()) out[axes[i]] = Dim(static_cast<int64_t>(std::floor(s * static_cast<double>(d.value()))));
      else out[axes[i]] = s == 1.0 ? d : Dim();
    }
  }
  ctx.set_output(0, in.dtype, out);
}

}  // namespace

VDRT_REGISTER_OP("", "Resize").inputs(1, 4).outputs(1, 1).needs_values({1, 2, 3}).set_infer([](InferContext& ctx) {
  infer_resize_like(ctx, false);
});
VDRT_REGISTER_OP("", "Upsample").inputs(1, 2).outputs(1, 1).needs_values({1}).set_infer([](InferContext& ctx) {
  infer_resize_like(ctx, true);
});

}  // namespace vdrt
