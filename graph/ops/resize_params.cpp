// Implements resize_params.h: Resize's size arithmetic and attribute defaults per opset, shared by
// the shape function and the kernel so both see the same effective scales.
#include "graph/ops/resize_params.h"

#include <algorithm>
#include <cmath>

#include "graph/error.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {

ResizePlan plan_resize(const std::vector<int64_t>& in_dims, const std::vector<float>& scales,
                       const std::vector<int64_t>& sizes, const std::vector<int64_t>& axes_in,
                       const std::string& policy) {
  const size_t rank = in_dims.size();
  VDRT_CHECK(scales.empty() != sizes.empty(), scales.empty() ? "Resize needs either scales or sizes"
                                                             : "Resize takes scales or sizes, not both");
  ResizePlan p;
  p.axes = axes_in;
  if (p.axes.empty())
    for (size_t i = 0; i < rank; ++i) p.axes.push_back(static_cast<int64_t>(i));
  p.axes = normalize_axes(p.axes, static_cast<int64_t>(rank), "Resize axes");
  const size_t n = scales.empty() ? sizes.size() : scales.size();
  VDRT_CHECK(n == p.axes.size(), std::string("Resize ") + (scales.empty() ? "sizes" : "scales") + " has " +
                                     std::to_string(n) + " entries but the input has rank " + std::to_string(rank) +
                                     (axes_in.empty() ? "" : " and axes names " + std::to_string(p.axes.size())));
  p.out_dims = in_dims;
  p.scales.assign(rank, 1.0);
  if (!scales.empty()) {
    for (size_t i = 0; i < n; ++i) {
      VDRT_CHECK(scales[i] > 0 && std::isfinite(scales[i]),
                 "Resize scale " + std::to_string(scales[i]) + " must be positive and finite");
      const int64_t a = p.axes[i];
      p.scales[a] = static_cast<double>(scales[i]);
      const double out = std::floor(p.scales[a] * static_cast<double>(in_dims[a]));
      VDRT_CHECK(out < 1e15, "Resize scale " + std::to_string(scales[i]) + " makes axis " + std::to_string(a) +
                                 " absurdly large");
      p.out_dims[a] = static_cast<int64_t>(out);
    }
    return p;
  }
  for (size_t i = 0; i < n; ++i) {
    VDRT_CHECK(sizes[i] >= 0, "Resize size " + std::to_string(sizes[i]) + " is negative");
    const int64_t a = p.axes[i];
    p.out_dims[a] = sizes[i];
    p.scales[a] = in_dims[a] > 0 ? static_cast<double>(sizes[i]) / static_cast<double>(in_dims[a]) : 1.0;
  }
  if (policy == "stretch" || policy.empty()) return p;
  VDRT_CHECK(policy == "not_larger" || policy == "not_smaller",
             "Resize keep_aspect_ratio_policy '" + policy + "' is not one of stretch, not_larger, not_smaller");
  // One scale for all named axes, then sizes rounded half up from it.
  double s = p.scales[p.axes[0]];
  for (int64_t a : p.axes) s = policy == "not_larger" ? std::min(s, p.scales[a]) : std::max(s, p.scales[a]);
  for (int64_t a : p.axes) {
    p.scales[a] = s;
    p.out_dims[a] = static_cast<int64_t>(s * static_cast<double>(in_dims[a]) + 0.5);
  }
  return p;
}

}  // namespace vdrt

#include "graph/attribute.h"

namespace vdrt {

ResizeAttrs resize_attrs(const AttributeMap& attrs, int64_t opset, bool upsample) {
  ResizeAttrs a;
  a.mode = attrs.get_string("mode", "nearest");
  if (a.mode == "bilinear" || a.mode == "trilinear") a.mode = "linear";  // Upsample-7 spellings
  VDRT_CHECK(a.mode == "nearest" || a.mode == "linear" || (a.mode == "cubic" && !upsample),
             "Resize mode must be nearest, linear or cubic, got '" + a.mode + "'");
  if (upsample || opset < 11) {
    // Upsample and Resize-10 sample at x/scale and pick nearest by truncation.
    a.coord = "asymmetric";
    a.nearest_mode = "simple";
    return a;
  }
  a.coord = attrs.get_string("coordinate_transformation_mode", "half_pixel");
  static const char* coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                 "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"};
  VDRT_CHECK(std::find(std::begin(coords), std::end(coords), a.coord) != std::end(coords),
             "Resize coordinate_transformation_mode '" + a.coord + "' is not supported");
  a.nearest_mode = attrs.get_string("nearest_mode", "round_prefer_floor");
  VDRT_CHECK(a.nearest_mode == "round_prefer_floor" || a.nearest_mode == "round_prefer_ceil" ||
                 a.nearest_mode == "floor" || a.nearest_mode == "ceil",
             "Resize nearest_mode '" + a.nearest_mode + "' is not supported");
  a.cubic_a = attrs.get_float("cubic_coeff_a", -0.75f);
  a.exclude_outside = attrs.get_int("exclude_outside", 0) != 0;
  a.extrapolation_value = attrs.get_float("extrapolation_value", 0.0f);
  a.antialias = attrs.get_int("antialias", 0) != 0;
  VDRT_CHECK(!(a.antialias && a.mode == "nearest"), "Resize antialias is defined for linear and cubic modes only");
  a.policy = attrs.get_string("keep_aspect_ratio_policy", "stretch");
  VDRT_CHECK(a.policy == "stretch" || a.policy == "not_larger" || a.policy == "not_smaller",
             "Resize keep_aspect_ratio_policy '" + a.policy + "' is not one of stretch, not_larger, not_smaller");
  a.axes = attrs.get_ints("axes", {});
  return a;
}

}  // namespace vdrt
